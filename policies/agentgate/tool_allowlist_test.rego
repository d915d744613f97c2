package agentgate_test

import rego.v1

import data.agentgate

tool_findings(inp) := [v | some v in agentgate.violations with input as inp; v.policy == "tool-allowlist"]

# An AgentConfig in qe using kagent/kagent-tool-server (listed in tools.servers),
# with the server object the cluster holds.
cross_cfg(server, ns_labels) := with_ctx(req("AgentConfig", "agent.tekton.dev", good_config), {"modelConfig": model_claude, "toolServers": {"kagent/kagent-tool-server": server}, "namespace": {"name": "qe", "labels": ns_labels}})

server_with(allowed) := json.patch(shared_tool_server, [{"op": "replace", "path": "/spec/allowedNamespaces", "value": allowed}])

refused_across := `kagent lets an agent in namespace "qe" use RemoteMCPServer "kagent/kagent-tool-server" only if that server's spec.allowedNamespaces admits namespace qe (its own namespace only by default); ask the owner of RemoteMCPServer kagent/kagent-tool-server to set spec.allowedNamespaces: {from: All} or a selector matching namespace qe, or use a tool server in namespace qe`

test_tool_server_across_namespaces_refused_as_kagent_would if {
	stock := json.remove(shared_tool_server, ["spec/allowedNamespaces"])
	every server in [stock, server_with({"from": "Same"}), server_with({"from": ""}), server_with({}), server_with({"from": "Selector"}), server_with({"from": "Other"}), null] {
		vs := tool_findings(cross_cfg(server, {}))
		count(vs) == 1
		vs[0].field == "spec.toolServers[0].ref.namespace"
		vs[0].message == refused_across
	}
}

test_tool_server_across_namespaces_admitted_as_kagent_would if {
	every allowed in [
		{"from": "All"},
		{"from": "Selector", "selector": {}},
		{"from": "Selector", "selector": {"matchLabels": {"team": "qe"}}},
		{"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "qe"}}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["qe", "dev"]}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "Exists"}, {"key": "prod", "operator": "DoesNotExist"}]}},
	] {
		tool_findings(cross_cfg(server_with(allowed), {"team": "qe"})) == []
	}
}

test_tool_server_selector_not_matching_refused if {
	every allowed in [
		{"from": "Selector", "selector": {"matchLabels": {"team": "dev"}}},
		{"from": "Selector", "selector": {"matchLabels": {"team": "qe", "tier": "gold"}}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "In", "values": ["dev"]}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["qe"]}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "In", "values": []}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"key": "team", "operator": "Like", "values": ["qe"]}]}},
		{"from": "Selector", "selector": {"matchExpressions": [{"operator": "NotIn", "values": ["x"]}]}},
		{"from": "Selector", "selector": "team=qe"},
	] {
		vs := tool_findings(cross_cfg(server_with(allowed), {"team": "qe"}))
		[v.message | some v in vs] == [refused_across]
	}
}

test_tool_server_object_of_another_kind_refused if {
	other := object.union(server_with({"from": "All"}), {"kind": "MCPServer"})
	count(tool_findings(cross_cfg(other, {}))) == 1
}

test_mcpserver_and_service_never_across_namespaces if {
	every kind in ["MCPServer", "Service"] {
		inp := object.union(cfg_input({"toolServers": [{"ref": {"kind": kind, "name": "gh", "namespace": "tools"}, "allowedTools": ["x"]}]}), {"context": {"toolServers": {"tools/gh": {"kind": kind, "spec": {"allowedNamespaces": {"from": "All"}}}}}})
		msgs := {v.field: v.message | some v in tool_findings(inp)}
		msgs["spec.toolServers[0].ref.namespace"] == sprintf(`%s "tools/gh" is in another namespace, and kagent never uses an MCPServer or a Service from another namespace; use one in namespace "qe", or a RemoteMCPServer that admits namespace qe`, [kind])
	}
}

test_tool_server_in_own_namespace_needs_no_admission if {
	cfg_spec := {"toolServers": [{"ref": {"name": "mine"}, "allowedTools": ["get_x"]}]}
	inp := object.union(cfg_input(cfg_spec), {"context": {"toolServers": {"qe/mine": {"kind": "RemoteMCPServer", "spec": {"url": "https://mcp.example.com"}}}}})
	servers := [{"kind": "RemoteMCPServer", "namespace": "qe", "name": "mine", "tools": ["get_*"]}]
	tool_findings(inp) == [] with data.agentgate.config.tools.servers as servers
}

agent_with_tools(tools) := {"metadata": {"name": "a"}, "spec": {"type": "Declarative", "declarative": {"modelConfig": "claude", "tools": tools}}}

agent_tool_input(tools) := with_ctx(req("Agent", "kagent.dev", agent_with_tools(tools)), {"modelConfig": model_claude, "toolServers": tool_servers_ctx})

test_agent_tool_without_kind_is_a_kmcp_mcpserver if {
	vs := tool_findings(agent_tool_input([{"type": "McpServer", "mcpServer": {"name": "kagent-tool-server", "namespace": "kagent", "toolNames": ["k8s_get_pods"]}}]))
	{v.field | some v in vs} == {"spec.declarative.tools[0]", "spec.declarative.tools[0].mcpServer.namespace"}
	some v in vs
	startswith(v.message, `MCPServer "kagent/kagent-tool-server" is not an allowed tool server`)

	# with the kind spelled out, the listed RemoteMCPServer (which admits qe)
	tool_findings(agent_tool_input([{"type": "McpServer", "mcpServer": {"kind": "RemoteMCPServer", "apiGroup": "", "name": "kagent-tool-server", "namespace": "kagent", "toolNames": ["k8s_get_pods"]}}])) == []
}

test_agent_tool_of_an_unknown_group_is_not_allowed if {
	vs := tool_findings(agent_tool_input([{"type": "McpServer", "mcpServer": {"kind": "RemoteMCPServer", "apiGroup": "evil.io", "name": "kagent-tool-server", "namespace": "kagent", "toolNames": ["k8s_get_pods"]}}]))
	some v in vs
	startswith(v.message, `RemoteMCPServer (apiGroup "evil.io") "kagent/kagent-tool-server" is not an allowed tool server`)
}

test_agent_tool_mcpserver_read_whatever_the_type if {
	count(tool_findings(agent_tool_input([{"type": "Other", "mcpServer": {"kind": "RemoteMCPServer", "name": "x", "namespace": "qe", "toolNames": ["a"]}}]))) > 0
}

test_agents_as_tools_only_when_listed if {
	tools := [{"type": "Agent", "agent": {"name": "helper", "namespace": "qe"}}]
	vs := tool_findings(agent_tool_input(tools))
	[v.field | some v in vs] == ["spec.declarative.tools[0].agent"]
	vs[0].message == `agent "qe/helper" is used as a tool, and only the agents in tools.agents may be (allowed: none); remove the tool, or ask the platform team to add qe/helper to tools.agents`
	tool_findings(agent_tool_input(tools)) == [] with data.agentgate.config.tools.agents as [{"namespace": "qe", "name": "helper"}]
	tool_findings(agent_tool_input([{"type": "Agent", "agent": {"name": "helper"}}])) == [] with data.agentgate.config.tools.agents as [{"namespace": "qe", "name": "helper"}]
	count(tool_findings(agent_tool_input(tools))) == 1 with data.agentgate.config.tools.agents as [{"namespace": "other", "name": "helper"}]
}

# item 8: tools.servers / tools.agents missing or of the wrong type still refuse, with a message
test_tool_allowlist_broken_config_still_denies if {
	every servers in [null, "kagent-tool-server", [5], {"kind": "RemoteMCPServer"}] {
		vs := tool_findings(cfg_input({})) with data.agentgate.config.tools.servers as servers
		[v.message | some v in vs] == [`RemoteMCPServer "kagent/kagent-tool-server" is not an allowed tool server; allowed: none. Use one of those, or ask the platform team to add it to tools.servers`]
	}
	every agents in [null, "qe/helper", [5]] {
		count(tool_findings(agent_tool_input([{"type": "Agent", "agent": {"name": "helper", "namespace": "qe"}}]))) == 1 with data.agentgate.config.tools.agents as agents
	}
	vs := tool_findings(cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["rm"]}]})) with data.agentgate.config.tools.servers as [{"kind": "RemoteMCPServer", "namespace": "kagent", "name": "kagent-tool-server", "tools": "k8s_*"}]
	[v.message | some v in vs] == [`tool "rm" of RemoteMCPServer "kagent/kagent-tool-server" is not allowed; allowed: none. Remove it from the list`]
}

# tool-offered
offered_findings(inp) := [v | some v in agentgate.violations with input as inp; v.policy == "tool-offered"]

server_offering(names) := object.union(shared_tool_server, {"status": {"discoveredTools": [{"name": n, "description": "d"} | some n in names]}})

offered_cfg(server, tools) := with_ctx(req("AgentConfig", "agent.tekton.dev", object.union(good_config, {"spec": object.union(good_config.spec, {"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": tools}]})})), {"modelConfig": model_claude, "toolServers": {"kagent/kagent-tool-server": server}, "namespace": {"name": "qe", "labels": {}}})

test_allowed_tool_not_offered_is_a_warning_naming_what_is if {
	vs := offered_findings(offered_cfg(server_offering(["k8s_get_resources", "k8s_describe_resource"]), ["k8s_get_resources", "k8s_get_resorces"]))
	count(vs) == 1
	vs[0].action == "warn"
	vs[0].field == "spec.toolServers[0].allowedTools[1]"
	vs[0].message == `RemoteMCPServer kagent/kagent-tool-server does not offer tool "k8s_get_resorces", so the agent can never call it (kagent found: k8s_describe_resource, k8s_get_resources); check the name, or the server`
}

test_offered_tools_are_clean if {
	offered_findings(offered_cfg(server_offering(["k8s_get_resources"]), ["k8s_get_resources"])) == []
}

# kagent has not listed the server yet: nothing is known, nothing said
test_server_not_yet_discovered_says_nothing if {
	offered_findings(offered_cfg(shared_tool_server, ["k8s_get_resorces"])) == []
	offered_findings(offered_cfg(server_offering([]), ["k8s_get_resorces"])) == []
}

# a server the namespace may not use: the allowlist refuses it, and nothing of what it offers is told
test_tools_of_a_server_the_namespace_may_not_use_are_not_told if {
	closed := json.remove(server_offering(["secret_tool"]), ["spec/allowedNamespaces"])
	offered_findings(offered_cfg(closed, ["k8s_get_resources"])) == []
}

test_tool_offered_under_a_dryrun_profile_stays_dryrun if {
	inp := object.union(offered_cfg(server_offering(["k8s_get_resources"]), ["nope"]), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "quiet"}}}})
	vs := [v | some v in agentgate.violations with input as inp with data.agentgate.config.profiles as {"quiet": {"enforcement": "dryrun", "namespaces": ["qe"]}}; v.policy == "tool-offered"]
	[v.action | some v in vs] == ["dryrun"]
}
