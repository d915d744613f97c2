# tool-allowlist: the tool servers and tools an agent may use, from an
# AgentConfig (spec.toolServers) or a kagent Agent (spec.declarative.tools);
# tool servers in another namespace only where kagent itself would use them;
# agents as tools only when listed.
package agentgate

import rego.v1

# A reference to a tool server with the tools it asks for.
tool_refs contains r if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some i, s in list_or_empty(get(spec, "toolServers", []))
	ref := get(s, "ref", {})
	r := {
		"field": indexed("spec.toolServers", i),
		"ref_field": "ref",
		"tools_field": "allowedTools",
		# agentgate's CRD defaults the kind to RemoteMCPServer, and the run's
		# Agent is built with that kind (src/controller/kagent-agent.ts)
		"kind": get(ref, "kind", "RemoteMCPServer"),
		"namespace": ref_ns(ref),
		"name": ref_name(ref),
		"tools": get(s, "allowedTools", []),
		"approval": get(s, "requireApproval", []),
	}
}

# Any tool with an mcpServer is read as one, whatever its type says: kagent's
# reconciler checks tool.McpServer before the type (validateCrossNamespaceReferences).
tool_refs contains r if {
	is_kind("Agent", "kagent.dev")
	some i, t in list_or_empty(get(get(spec, "declarative", {}), "tools", []))
	m := get(t, "mcpServer", null)
	is_object(m)
	r := {
		"field": indexed("spec.declarative.tools", i),
		"ref_field": "mcpServer",
		"tools_field": "mcpServer.toolNames",
		"kind": kagent_tool_kind(get(m, "apiGroup", ""), get(m, "kind", "")),
		"namespace": ref_ns(m),
		"name": ref_name(m),
		"tools": get(m, "toolNames", []),
		"approval": get(m, "requireApproval", []),
	}
}

# No rule for the number of tools: kagent's Agent CRD itself allows at most
# 20 tools, 50 toolNames and 50 requireApproval per server, and requires
# requireApproval to be a subset of toolNames (v0.9.0..v0.10.0-rc3,
# go/api/v1alpha2/agent_types.go MaxItems markers and McpServerTool's CEL);
# agentgate's AgentConfig CRD holds the same limits.

# The kind kagent resolves an Agent's McpServerTool to from (apiGroup, kind):
# an empty kind is a kmcp MCPServer, not a RemoteMCPServer (kagent
# v0.9.0..v0.10.0-rc3, go/core/internal/controller/translator/agent/
# adk_api_translator.go translateMCPServerTarget; reconciler.go
# validateMcpServerReference). Any other pair fails the Agent in kagent; it
# keeps its spelling here, so no allowlist entry matches it.
kagent_tool_kind(g, k) := "MCPServer" if {
	[g, k] in {["", ""], ["", "MCPServer"], ["kagent.dev", "MCPServer"]}
} else := "RemoteMCPServer" if {
	[g, k] in {["", "RemoteMCPServer"], ["kagent.dev", "RemoteMCPServer"]}
} else := "Service" if {
	[g, k] in {["", "Service"], ["core", "Service"]}
} else := concat("", [text(k), " (apiGroup ", json.marshal(g), ")"])

listed_server(r) := s if {
	some s in list_or_empty(cfg.tools.servers)
	s.kind == r.kind
	s.namespace == r.namespace
	s.name == r.name
}

allowed_servers := s if {
	s := concat(", ", sort([concat("", [e.kind, " ", e.namespace, "/", e.name]) | some e in list_or_empty(cfg.tools.servers); is_string(e.kind); is_string(e.namespace); is_string(e.name)]))
	s != ""
} else := "none"

violations contains finding("tool-allowlist", r.field, msg) if {
	some r in tool_refs
	not listed_server(r)
	msg := server_not_allowed(r)
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
	msg := tool_not_allowed(r, s, t)
}

server_tools(s) := t if {
	t := str_list(list_or_empty(s.tools))
	t != ""
} else := "none"

tool_allowed(s, t) if {
	is_string(t)
	some g in list_or_empty(s.tools)
	matches(g, t)
}

# --- Across namespaces, only what kagent would use (kagent v0.9.0..v0.10.0-rc3,
# go/core/internal/controller/reconciler/reconciler.go
# validateMcpServerReference; go/api/v1alpha2/common_types.go
# AllowsNamespace): an MCPServer or a Service never; a RemoteMCPServer when
# its spec.allowedNamespaces.from is All, or Selector with a selector
# matching the agent's namespace's labels; unset, "" or Same: its own
# namespace only. The agent runs in the request's namespace (a run's Agent in
# its config's). The message is the same whether the server exists or not,
# and shows nothing of it.
violations contains finding("tool-allowlist", concat(".", [r.field, r.ref_field, "namespace"]), msg) if {
	some r in tool_refs
	r.namespace != ns
	r.kind in {"MCPServer", "Service"}
	msg := never_across_namespaces(r)
}

violations contains finding("tool-allowlist", concat(".", [r.field, r.ref_field, "namespace"]), msg) if {
	some r in tool_refs
	r.namespace != ns
	not r.kind in {"MCPServer", "Service"}
	not remote_server_admits(r)
	msg := remote_server_refuses(r)
}

remote_server_admits(r) if {
	r.kind == "RemoteMCPServer"
	server := input.context.toolServers[concat("/", [r.namespace, r.name])]
	is_object(server)
	get(server, "kind", "RemoteMCPServer") == "RemoteMCPServer"
	allowed := get(get(server, "spec", {}), "allowedNamespaces", null)
	admits_namespace(allowed)
}

admits_namespace(allowed) if get(allowed, "from", "") == "All"

admits_namespace(allowed) if {
	get(allowed, "from", "") == "Selector"
	selector := get(allowed, "selector", null)
	is_object(selector)
	selector_matches(selector, namespace_labels)
}

# The API server labels every namespace with its own name.
namespace_labels := object.union(labels, {"kubernetes.io/metadata.name": ns}) if {
	labels := get(get(input.context, "namespace", {}), "labels", {})
	is_object(labels)
} else := {"kubernetes.io/metadata.name": ns}

# metav1.LabelSelectorAsSelector, then Matches: every matchLabels pair and
# every matchExpressions requirement; an empty selector matches everything;
# a malformed requirement matches nothing (kagent's conversion fails).
selector_matches(sel, labels) if {
	match_labels := get(sel, "matchLabels", {})
	is_object(match_labels)
	every k, v in match_labels { labels[k] == v }
	exprs := get(sel, "matchExpressions", [])
	is_array(exprs)
	every e in exprs { requirement_matches(e, labels) }
}

requirement_matches(e, labels) if {
	e.operator == "In"
	is_string(e.key)
	count(list_or_empty(e.values)) > 0
	labels[e.key] in e.values
}

requirement_matches(e, labels) if {
	e.operator == "NotIn"
	is_string(e.key)
	count(list_or_empty(e.values)) > 0
	not label_in(labels, e.key, e.values)
}

# (A function: in `not labels[k] in values` OPA would hoist labels[k] out of
# the negation, and an absent label would fail the rule instead of matching.)
label_in(labels, key, values) if labels[key] in values

requirement_matches(e, labels) if {
	e.operator == "Exists"
	is_string(e.key)
	count(list_or_empty(get(e, "values", []))) == 0
	is_string(labels[e.key])
}

requirement_matches(e, labels) if {
	e.operator == "DoesNotExist"
	count(list_or_empty(get(e, "values", []))) == 0
	is_string(e.key)
	not labels[e.key]
}

# --- Agents as tools: an agent called as a tool runs with its own model,
# tools and identity, none of which this Agent's checks see; only the agents
# the platform lists in tools.agents.
violations contains finding("tool-allowlist", concat(".", [indexed("spec.declarative.tools", i), "agent"]), msg) if {
	is_kind("Agent", "kagent.dev")
	some i, t in list_or_empty(get(get(spec, "declarative", {}), "tools", []))
	a := get(t, "agent", null)
	a != null
	target := {"namespace": ref_ns(a), "name": ref_name(a)}
	not listed_agent(target)
	msg := agent_tool_not_allowed(target)
}

listed_agent(target) if {
	some e in list_or_empty(cfg.tools.agents)
	e.namespace == target.namespace
	e.name == target.name
}

allowed_agents := s if {
	s := concat(", ", sort([concat("/", [e.namespace, e.name]) | some e in list_or_empty(cfg.tools.agents); is_string(e.namespace); is_string(e.name)]))
	s != ""
} else := "none"

# A RemoteMCPServer listed with a url must keep exactly that url: nobody
# swaps the endpoint behind an allowed name.
violations contains finding("tool-allowlist", "spec.url", msg) if {
	is_kind("RemoteMCPServer", "kagent.dev")
	some s in list_or_empty(cfg.tools.servers)
	s.kind == "RemoteMCPServer"
	s.namespace == ns
	s.name == obj_name
	is_string(s.url)
	url := get(spec, "url", "")
	url != s.url
	msg := pinned_url_message(s.url, url)
}

# --- messages (each ends in a static fallback: see lib.rego)

server_not_allowed(r) := m if {
	m := sprintf("%s \"%s/%s\" is not an allowed tool server; allowed: %s. Use one of those, or ask the platform team to add it to tools.servers", [text(r.kind), text(r.namespace), text(r.name), allowed_servers])
} else := "this tool server is not an allowed tool server (tools.servers); use an allowed one, or ask the platform team to add it"

tool_not_allowed(r, s, t) := m if {
	m := sprintf("tool \"%s\" of %s \"%s/%s\" is not allowed; allowed: %s. Remove it from the list", [text(t), text(r.kind), text(r.namespace), text(r.name), server_tools(s)])
} else := "this tool is not allowed on its server (tools.servers[].tools); remove it from the list"

never_across_namespaces(r) := m if {
	m := sprintf("%s \"%s/%s\" is in another namespace, and kagent never uses an MCPServer or a Service from another namespace; use one in namespace \"%s\", or a RemoteMCPServer that admits namespace %s", [r.kind, text(r.namespace), text(r.name), ns, ns])
} else := "this tool server is in another namespace, and kagent never lets an agent use an MCPServer or a Service across namespaces; use one in the agent's own namespace"

remote_server_refuses(r) := m if {
	m := sprintf("kagent lets an agent in namespace \"%s\" use RemoteMCPServer \"%s/%s\" only if that server's spec.allowedNamespaces admits namespace %s (its own namespace only by default); ask the owner of RemoteMCPServer %s/%s to set spec.allowedNamespaces: {from: All} or a selector matching namespace %s, or use a tool server in namespace %s", [ns, text(r.namespace), text(r.name), ns, text(r.namespace), text(r.name), ns, ns])
} else := "kagent lets an agent use a RemoteMCPServer in another namespace only if that server's spec.allowedNamespaces admits the agent's namespace; ask its owner to set spec.allowedNamespaces, or use a tool server in the agent's own namespace"

agent_tool_not_allowed(target) := m if {
	m := sprintf("agent \"%s/%s\" is used as a tool, and only the agents in tools.agents may be (allowed: %s); remove the tool, or ask the platform team to add %s/%s to tools.agents", [text(target.namespace), text(target.name), allowed_agents, text(target.namespace), text(target.name)])
} else := "an agent is used as a tool, and only the agents in tools.agents may be; remove the tool, or ask the platform team to list the agent in tools.agents"

pinned_url_message(want, got) := m if {
	m := sprintf("RemoteMCPServer \"%s/%s\" is an allowed tool server only at %s, not at \"%s\"; set spec.url back, or create a server under another name (it will not be usable until allowed)", [ns, obj_name, want, text(got)])
} else := "this RemoteMCPServer is an allowed tool server only at the url listed in tools.servers; set spec.url back, or create a server under another name"

# --- tool-offered: an allowed tool the server does not offer, by what kagent
# found it offers (a RemoteMCPServer's status.discoveredTools, written by
# kagent's controller from the server's tools/list). A typo, or a tool the
# server dropped: the agent could never call it. A warning, never a denial:
# discovery may lag a server that just gained the tool, and a server kagent
# has not listed yet (no discoveredTools) says nothing. Only where the agent
# may use the server, so nothing is told of a server it may not.
advisory(policy, field, message) := {"policy": policy, "field": field, "message": message, "action": a} if {
	a := "dryrun"
	action == "dryrun"
} else := {"policy": policy, "field": field, "message": message, "action": "warn"}

offered_tools(r) := {n | some d in discovered; n := get(d, "name", null); is_string(n)} if {
	r.kind == "RemoteMCPServer"
	server := input.context.toolServers[concat("/", [r.namespace, r.name])]
	is_object(server)
	discovered := get(get(server, "status", {}), "discoveredTools", null)
	is_array(discovered)
	count(discovered) > 0
}

usable_server(r) if r.namespace == ns

usable_server(r) if remote_server_admits(r)

violations contains advisory("tool-offered", indexed(concat(".", [r.field, r.tools_field]), j), msg) if {
	some r in tool_refs
	usable_server(r)
	offered := offered_tools(r)
	some j, t in list_or_empty(r.tools)
	is_string(t)
	not t in offered
	msg := sprintf("RemoteMCPServer %s/%s does not offer tool %q, so the agent can never call it (kagent found: %s); check the name, or the server", [r.namespace, r.name, t, concat(", ", sort(offered))])
}
