package agentgate_test

import rego.v1

import data.agentgate

req(kind, group, object) := {"request": {
	"operation": "CREATE",
	"kind": {"group": group, "version": "v1", "kind": kind},
	"namespace": "qe",
	"object": object,
}}

with_ctx(r, ctx) := object.union(r, {"context": ctx})

model_claude := {"spec": {"provider": "Anthropic", "model": "claude-3.5-sonnet"}}

model_old := {"spec": {"provider": "OpenAI", "model": "gpt-3.5-turbo"}}

good_config := {"metadata": {"name": "c"}, "spec": {
	"modelConfigRef": {"name": "claude"},
	"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["k8s_get_resources"]}],
	"tokenBudget": 1000, "timeout": "30m", "maxIterations": 5,
	"rbac": {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
}}

# kagent's stock tool server admits only its own namespace; the platform
# that lists it for other namespaces opens it to them.
shared_tool_server := {"kind": "RemoteMCPServer", "metadata": {"name": "kagent-tool-server", "namespace": "kagent"}, "spec": {"url": "http://kagent-tools.kagent:8084/mcp", "allowedNamespaces": {"from": "All"}}}

tool_servers_ctx := {"kagent/kagent-tool-server": shared_tool_server}

cfg_input(spec) := with_ctx(req("AgentConfig", "agent.tekton.dev", {"metadata": {"name": "c"}, "spec": object.union(good_config.spec, spec)}), {"modelConfig": model_claude, "namespace": null, "toolServers": tool_servers_ctx})

ids(inp) := {v.policy | some v in agentgate.violations with input as inp}

test_good_config_is_clean if count(ids(cfg_input({}))) == 0

# model-allowlist
test_model_allowlist_glob_crosses_dots if agentgate.model_allowed("Anthropic", "claude-3.5-sonnet")

test_model_allowlist_denies_unlisted_model if "model-allowlist" in ids(with_ctx(req("AgentConfig", "agent.tekton.dev", good_config), {"modelConfig": model_old}))

test_model_allowlist_denies_missing_modelconfig if {
	vs := agentgate.violations with input as with_ctx(req("AgentConfig", "agent.tekton.dev", good_config), {"modelConfig": null})
	some v in vs
	v.policy == "model-allowlist"
	contains(v.message, "create it first")
}

test_model_allowlist_modelconfig_allowed if not "model-allowlist" in ids(req("ModelConfig", "kagent.dev", model_claude))

test_model_allowlist_modelconfig_denied if "model-allowlist" in ids(req("ModelConfig", "kagent.dev", model_old))

# model-token-cap
test_token_cap_allows_small if not "model-token-cap" in ids(req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"maxTokens": 4096}}})))

test_token_cap_denies_large if "model-token-cap" in ids(req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"maxTokens": 100000}}})))

# model-endpoint
test_endpoint_denies_disable_verify if "model-endpoint" in ids(req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"tls": {"disableVerify": true}}})))

test_endpoint_allows_verified if not "model-endpoint" in ids(req("ModelConfig", "kagent.dev", model_claude))

test_endpoint_prefix_enforced if {
	inp := req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"baseUrl": "https://evil.example.com"}}}))
	"model-endpoint" in ids(inp) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
	not "model-endpoint" in ids(req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"baseUrl": "https://llm-proxy.internal/v1"}}}))) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
}

# tool-allowlist
test_tool_allowlist_denies_unlisted_tool if "tool-allowlist" in ids(cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["k8s_get_x", "k8s_delete_pod"], "requireApproval": ["k8s_delete_pod"]}]}))

test_tool_allowlist_denies_unlisted_server if "tool-allowlist" in ids(cfg_input({"toolServers": [{"ref": {"name": "other", "namespace": "kagent"}, "allowedTools": ["k8s_get_x"]}]}))

test_tool_allowlist_denies_empty_list if "tool-allowlist" in ids(cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": []}]}))

test_tool_allowlist_agent if {
	agent := {"spec": {"declarative": {"modelConfig": "claude", "tools": [{"type": "McpServer", "mcpServer": {"kind": "RemoteMCPServer", "name": "kagent-tool-server", "namespace": "kagent", "toolNames": ["k8s_get_pods"]}}]}}}
	not "tool-allowlist" in ids(with_ctx(req("Agent", "kagent.dev", agent), {"modelConfig": model_claude, "toolServers": tool_servers_ctx}))
	bad := json.patch(agent, [{"op": "replace", "path": "/spec/declarative/tools/0/mcpServer/toolNames", "value": ["rm_rf"]}])
	"tool-allowlist" in ids(with_ctx(req("Agent", "kagent.dev", bad), {"modelConfig": model_claude, "toolServers": tool_servers_ctx}))
}

test_tool_allowlist_pinned_url if {
	r := {"metadata": {"name": "kagent-tool-server", "namespace": "kagent"}, "spec": {"url": "http://evil:80/mcp"}}
	inp := object.union(req("RemoteMCPServer", "kagent.dev", r), {"request": {"namespace": "kagent"}})
	"tool-allowlist" in ids(inp)
	ok := object.union(inp, {"request": {"object": {"spec": {"url": "http://kagent-tools.kagent:8084/mcp"}}}})
	not "tool-allowlist" in ids(ok)
}

# tool-approval
test_tool_approval_required if "tool-approval" in ids(cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["k8s_get_x"]}]})) with data.agentgate.config.tools.requireApproval as ["*get*"]

test_tool_approval_given if not "tool-approval" in ids(cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["k8s_get_x"], "requireApproval": ["k8s_get_x"]}]})) with data.agentgate.config.tools.requireApproval as ["*get*"]

# token-budget, run-timeout, max-iterations on configs
test_budget_limits if {
	"token-budget" in ids(cfg_input({"tokenBudget": 900000}))
	"run-timeout" in ids(cfg_input({"timeout": "2h"}))
	"run-timeout" in ids(cfg_input({"timeout": "soon"}))
	"max-iterations" in ids(cfg_input({"maxIterations": 50}))
	"token-budget" in ids(cfg_input({"tokenBudget": "lots"}))
}

# and on runs: overrides only narrow
run_input(spec) := with_ctx(req("AgentRun", "agent.tekton.dev", {"spec": object.union({"configRef": {"name": "c"}, "goal": "g"}, spec)}), {"agentConfig": good_config})

test_run_overrides_narrow if count(ids(run_input({"tokenBudget": 500, "timeout": "10m", "maxIterations": 3}))) == 0

test_run_overrides_cannot_widen if {
	"token-budget" in ids(run_input({"tokenBudget": 5000}))
	"run-timeout" in ids(run_input({"timeout": "45m"}))
	"max-iterations" in ids(run_input({"maxIterations": 6}))
}

# config-exists
test_config_exists if {
	"config-exists" in ids(with_ctx(req("AgentRun", "agent.tekton.dev", {"spec": {"configRef": {"name": "nope"}}}), {"agentConfig": null}))
	not "config-exists" in ids(run_input({}))
}

config_exists_messages(inp) := [v.message | some v in agentgate.violations with input as inp; v.policy == "config-exists"]

test_config_ref_of_the_wrong_shape_is_denied if {
	every ref in ["c", {}, {"name": 5}, {"name": ""}, null] {
		m := config_exists_messages(with_ctx(req("AgentRun", "agent.tekton.dev", {"spec": {"configRef": ref, "goal": "g"}}), {"agentConfig": null}))
		count(m) == 1
		contains(m[0], "spec.configRef must name an AgentConfig as {name: <AgentConfig>}")
	}
	m := config_exists_messages(with_ctx(req("AgentRun", "agent.tekton.dev", {"spec": {"goal": "g"}}), {"agentConfig": null}))
	contains(m[0], "got nothing")
	contains(config_exists_messages(with_ctx(req("AgentRun", "agent.tekton.dev", {"spec": {"configRef": "c", "goal": "g"}}), {"agentConfig": null}))[0], `got "c"`)
}

# network-strict
test_network_strict if {
	"network-strict" in ids(cfg_input({"networkPolicy": "permissive"}))
	not "network-strict" in ids(cfg_input({"networkPolicy": "permissive"})) with data.agentgate.config.network.allowPermissive as true
}

# kagent-byo
test_kagent_byo if {
	"kagent-byo" in ids(req("Agent", "kagent.dev", {"spec": {"type": "BYO"}}))
	not "kagent-byo" in ids(req("Agent", "kagent.dev", {"spec": {"type": "BYO"}})) with data.agentgate.config.kagent.allowBYO as true
}

# profiles and enforcement
test_profile_enforcement_warn if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "rollout"}}}})
	vs := agentgate.violations with input as inp with data.agentgate.config.profiles as {"rollout": {"enforcement": "warn", "namespaces": ["qe"]}}
	count(vs) > 0
	every v in vs { v.action == "warn" }
}

test_profile_raises_limit if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "big"}}}})
	not "token-budget" in ids(inp) with data.agentgate.config.profiles as {"big": {"budgets": {"maxTokenBudget": 1000000}, "namespaces": ["q*"]}}
}

# A label selects only a profile the platform bound to the namespace: a
# tenant who can label theirs cannot pick the warn profile for it.
test_profile_label_outside_its_namespaces_is_ignored if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "team", "labels": {"agent.tekton.dev/guardrail-profile": "rollout"}}}})
	vs := agentgate.violations with input as inp with data.agentgate.config.profiles as {"rollout": {"enforcement": "warn", "namespaces": ["qe", "staging-*"]}}
	some v in vs
	v.policy == "token-budget"
	v.action == "deny"
}

test_profile_without_namespaces_binds_nowhere if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "rollout"}}}})
	some v in agentgate.violations with input as inp with data.agentgate.config.profiles as {"rollout": {"enforcement": "warn"}}
	v.action == "deny"
}

test_profile_prefix_binding if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "staging-web", "labels": {"agent.tekton.dev/guardrail-profile": "rollout"}}}})
	vs := agentgate.violations with input as inp with data.agentgate.config.profiles as {"rollout": {"enforcement": "warn", "namespaces": ["qe", "staging-*"]}}
	count(vs) > 0
	every v in vs { v.action == "warn" }
}

test_default_action_is_deny if {
	some v in agentgate.violations with input as cfg_input({"tokenBudget": 900000})
	v.action == "deny"
}

# defaults and operations
test_defaults_for_agentconfig if agentgate.defaults.spec.timeout == "15m" with input as req("AgentConfig", "agent.tekton.dev", {"spec": {}})

test_no_defaults_for_runs if agentgate.defaults == {} with input as req("AgentRun", "agent.tekton.dev", {"spec": {}})

test_delete_is_not_evaluated if count(agentgate.violations) == 0 with input as {"request": {"operation": "DELETE", "kind": {"group": "agent.tekton.dev", "kind": "AgentConfig"}, "object": null}}

test_update_is_evaluated if "token-budget" in ids(object.union(cfg_input({"tokenBudget": 900000}), {"request": {"operation": "UPDATE"}}))

# A run is judged at CREATE only: its config may since have been tightened or
# deleted, and cancelling it must still be admitted.
test_run_update_is_not_evaluated if {
	"config-exists" in ids(object.union(run_input({}), {"context": {"agentConfig": null}}))
	count(ids(object.union(run_input({"tokenBudget": 5000, "status": "Cancelled"}), {"request": {"operation": "UPDATE"}, "context": {"agentConfig": null}}))) == 0
}

test_glob_fast_paths_mean_what_glob_means if {
	cases := [
		["claude-*", "claude-3.5-sonnet"], ["claude-*", "claude-"], ["claude-*", "claud"], ["gpt-4o*", "gpt-4o"],
		["*delete*", "k8s_delete_pod"], ["*delete*", "delete"], ["*delete*", "k8s_get"], ["k8s_get_*", "k8s_get_pods"],
		["exact", "exact"], ["exact", "exactly"], ["a*b", "ab"], ["a*b", "a"], ["a*b", "axxb"], ["*", ""], ["*", "x"],
		["k8s_?et_*", "k8s_get_x"], ["*a*b*", "xaxbx"], ["[ab]*", "b1"],
	]
	every c in cases {
		matches_bool(c[0], c[1]) == glob.match(c[0], null, c[1])
	}
}

matches_bool(p, v) := true if agentgate.matches(p, v)

else := false

test_glob_fast_paths_negative if {
	not agentgate.matches("claude-*", "claud")
	not agentgate.matches("a*b", "a")
}

# model-allowlist through a kagent Agent's spec.declarative.modelConfig
agent_with_model(name) := {"metadata": {"name": "a"}, "spec": {"type": "Declarative", "declarative": {"modelConfig": name}}}

test_model_allowlist_agent_allowed if not "model-allowlist" in ids(with_ctx(req("Agent", "kagent.dev", agent_with_model("claude")), {"modelConfig": model_claude}))

test_model_allowlist_agent_denied if {
	vs := agentgate.violations with input as with_ctx(req("Agent", "kagent.dev", agent_with_model("fast")), {"modelConfig": model_old})
	some v in vs
	v.policy == "model-allowlist"
	v.field == "spec.declarative.modelConfig"
	contains(v.message, "ModelConfig \"fast\" uses OpenAI/gpt-3.5-turbo")
	contains(v.message, "allowed: Anthropic/claude-*, OpenAI/gpt-4o*")
}

test_model_allowlist_agent_default_model_config_missing if {
	vs := agentgate.violations with input as with_ctx(req("Agent", "kagent.dev", {"spec": {"declarative": {}}}), {"modelConfig": null})
	some v in vs
	v.policy == "model-allowlist"
	contains(v.message, "ModelConfig \"qe/default-model-config\" does not exist; create it first")
}

test_model_allowlist_no_model_config_named if {
	cfg_obj := json.remove(good_config, ["spec/modelConfigRef"])
	vs := agentgate.violations with input as with_ctx(req("AgentConfig", "agent.tekton.dev", cfg_obj), {"modelConfig": null})
	some v in vs
	v.policy == "model-allowlist"
	v.field == "spec.modelConfigRef"
	startswith(v.message, "no ModelConfig is named; set it to a ModelConfig that uses an allowed model (Anthropic/claude-*, OpenAI/gpt-4o*)")
}

# model-endpoint: a pinned prefix and a ModelConfig that names no endpoint at all
test_endpoint_prefix_without_endpoint if {
	vs := agentgate.violations with input as req("ModelConfig", "kagent.dev", model_claude) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
	some v in vs
	v.policy == "model-endpoint"
	v.field == "spec"
	contains(v.message, "no endpoint is set")
	contains(v.message, "https://llm-proxy.internal/")
}

test_endpoint_no_prefix_no_endpoint_is_fine if not "model-endpoint" in ids(req("ModelConfig", "kagent.dev", model_claude))

# model-token-cap: values that are not numbers, and OpenAI's maxCompletionTokens
token_cap_msgs(spec) := {v.field: v.message | some v in agentgate.violations with input as req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": spec})); v.policy == "model-token-cap"}

test_token_cap_not_a_number if {
	msgs := token_cap_msgs({"anthropic": {"maxTokens": "lots"}})
	msgs["spec.anthropic.maxTokens"] == "\"lots\" is not a number of tokens; allowed: a whole number up to 8192. Set it to 8192 or less"
	token_cap_msgs({"anthropic": {"maxTokens": {"n": 1}}})["spec.anthropic.maxTokens"]
	token_cap_msgs({"anthropic": {"maxTokens": true}})["spec.anthropic.maxTokens"]
}

test_token_cap_openai_max_completion_tokens if {
	msgs := token_cap_msgs({"provider": "OpenAI", "model": "gpt-4o", "openAI": {"maxCompletionTokens": 32000}})
	msgs["spec.openAI.maxCompletionTokens"] == "32000 tokens per call exceeds the maximum of 8192; set it to 8192 or less"
	count(token_cap_msgs({"provider": "OpenAI", "model": "gpt-4o", "openAI": {"maxCompletionTokens": 4096, "maxTokens": 4096}})) == 0
}

# budget values that are not whole numbers: the message shows the value and the limit
test_budget_not_whole_number_messages if {
	tb := {v.message | some v in agentgate.violations with input as cfg_input({"tokenBudget": "lots"}); v.policy == "token-budget"}
	tb == {"tokenBudget \"lots\" is not a whole number of tokens; allowed: a whole number from 1 to 500000. Set spec.tokenBudget to a number such as 100000"}
	mi := {v.message | some v in agentgate.violations with input as cfg_input({"maxIterations": 2.5}); v.policy == "max-iterations"}
	mi == {"maxIterations 2.5 is not a whole number of iterations; allowed: a whole number from 1 to 20. Set spec.maxIterations to a number such as 5"}
	rt := {v.message | some v in agentgate.violations with input as cfg_input({"timeout": 30}); v.policy == "run-timeout"}
	rt == {"timeout 30 is not a duration; allowed: a Go duration string above 0s up to 1h. Set spec.timeout to a value such as \"15m\" or \"1h30m\""}
}

# enforcement: dryrun turns every finding of the namespace into an audit-only one
test_profile_enforcement_dryrun if {
	inp := object.union(cfg_input({"tokenBudget": 900000, "networkPolicy": "permissive"}), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "shadow"}}}})
	vs := agentgate.violations with input as inp with data.agentgate.config.profiles as {"shadow": {"enforcement": "dryrun", "namespaces": ["qe"]}}
	{v.policy | some v in vs} == {"token-budget", "network-strict"}
	every v in vs { v.action == "dryrun" }
}

test_profile_unknown_enforcement_stays_deny if {
	inp := object.union(cfg_input({"tokenBudget": 900000}), {"context": {"namespace": {"name": "qe", "labels": {"agent.tekton.dev/guardrail-profile": "odd"}}}})
	vs := agentgate.violations with input as inp with data.agentgate.config.profiles as {"odd": {"enforcement": "off", "namespaces": ["qe"]}}
	count(vs) > 0
	every v in vs { v.action == "deny" }
}
