package agentgate

import rego.v1

# A reference to a tool server with the tools it asks for, from an
# AgentConfig (spec.toolServers) or a kagent Agent (declarative.tools).
tool_refs contains r if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some i, s in list_or_empty(object.get(spec, "toolServers", []))
	ref := object.get(s, "ref", {})
	r := {
		"field": indexed("spec.toolServers", i),
		"tools_field": "allowedTools",
		"kind": object.get(ref, "kind", "RemoteMCPServer"),
		"namespace": ref_ns(ref),
		"name": ref_name(ref),
		"tools": object.get(s, "allowedTools", []),
		"approval": object.get(s, "requireApproval", []),
	}
}

tool_refs contains r if {
	is_kind("Agent", "kagent.dev")
	declarative := object.get(spec, "declarative", {})
	some i, t in list_or_empty(object.get(declarative, "tools", []))
	object.get(t, "type", "McpServer") == "McpServer"
	m := object.get(t, "mcpServer", {})
	r := {
		"field": indexed("spec.declarative.tools", i),
		"tools_field": "mcpServer.toolNames",
		"kind": object.get(m, "kind", "RemoteMCPServer"),
		"namespace": ref_ns(m),
		"name": ref_name(m),
		"tools": object.get(m, "toolNames", []),
		"approval": object.get(m, "requireApproval", []),
	}
}

listed_server(r) := s if {
	some s in cfg.tools.servers
	s.kind == r.kind
	s.namespace == r.namespace
	s.name == r.name
}

allowed_servers := concat(", ", sort([sprintf("%s %s/%s", [s.kind, s.namespace, s.name]) | some s in cfg.tools.servers]))

violations contains finding("tool-allowlist", r.field, msg) if {
	some r in tool_refs
	not listed_server(r)
	msg := sprintf("%s \"%s/%s\" is not an allowed tool server; allowed: %s. Use one of those, or ask the platform team to add it to tools.servers", [r.kind, r.namespace, r.name, allowed_servers])
}

violations contains finding("tool-allowlist", concat(".", [r.field, r.tools_field]), msg) if {
	some r in tool_refs
	listed_server(r)
	count([t | some t in list_or_empty(r.tools); is_string(t)]) == 0
	msg := "lists no tools; an empty list means every tool of the server, which is never allowed. List the tools the agent needs"
}

violations contains finding("tool-allowlist", indexed(concat(".", [r.field, r.tools_field]), j), msg) if {
	some r in tool_refs
	s := listed_server(r)
	some j, t in list_or_empty(r.tools)
	not tool_allowed(s, t)
	msg := sprintf("tool \"%s\" of %s \"%s/%s\" is not allowed; allowed: %s. Remove it from the list", [text(t), r.kind, r.namespace, r.name, str_list(s.tools)])
}

tool_allowed(s, t) if {
	is_string(t)
	some g in s.tools
	matches(g, t)
}

# A RemoteMCPServer listed with a url must keep exactly that url: nobody
# swaps the endpoint behind an allowed name.
violations contains finding("tool-allowlist", "spec.url", msg) if {
	is_kind("RemoteMCPServer", "kagent.dev")
	some s in cfg.tools.servers
	s.kind == "RemoteMCPServer"
	s.namespace == ns
	s.name == obj_name
	is_string(s.url)
	url := object.get(spec, "url", "")
	url != s.url
	msg := sprintf("RemoteMCPServer \"%s/%s\" is an allowed tool server only at %s, not at \"%s\"; set spec.url back, or create a server under another name (it will not be usable until allowed)", [ns, obj_name, s.url, text(url)])
}
