package agentgate_test

import rego.v1

import data.agentgate

# item 8 and the threat model's "a config that does not match its schema must
# not silently turn rules off": for the rules not covered in their own test
# files, a policy config value that is missing or of the wrong type never
# drops a finding, and every finding still has its one-line message.

policy_messages(inp, policy) := [v.message | some v in agentgate.violations with input as inp; v.policy == policy]

test_broken_flags_refuse_rather_than_allow if {
	byo := req("Agent", "kagent.dev", {"spec": {"type": "BYO", "byo": {}}})
	every allow in [null, "true", 1, {}] {
		policy_messages(byo, "kagent-byo") == [`bring-your-own agents run code agentgate cannot see and are not allowed in namespace "qe"; use type Declarative with an allowed ModelConfig and tool servers`] with data.agentgate.config.kagent.allowBYO as allow
		count(policy_messages(cfg_input({"networkPolicy": "permissive"}), "network-strict")) == 1 with data.agentgate.config.network.allowPermissive as allow
	}
	count(policy_messages(byo, "kagent-byo")) == 1 with data.agentgate.config.kagent as null
	count(policy_messages(cfg_input({"networkPolicy": "permissive"}), "network-strict")) == 1 with data.agentgate.config.network as null
}

test_broken_budget_maximums_refuse_rather_than_lift_the_limit if {
	every broken in [null, "lots", 1.5, []] {
		m := policy_messages(cfg_input({"tokenBudget": 1000}), "token-budget") with data.agentgate.config.budgets.maxTokenBudget as broken
		count(m) == 1
		contains(m[0], "tokenBudget 1000 cannot be checked: the policy's budgets.maxTokenBudget ")
		count(policy_messages(cfg_input({"maxIterations": 3}), "max-iterations")) == 1 with data.agentgate.config.budgets.maxIterations as broken
		count(policy_messages(cfg_input({"timeout": "10m"}), "run-timeout")) == 1 with data.agentgate.config.budgets.maxTimeout as broken
	}
	policy_messages(cfg_input({"tokenBudget": 1000}), "token-budget") == [`tokenBudget 1000 cannot be checked: the policy's budgets.maxTokenBudget is "lots", not a limit; ask the platform team to fix the policy config (this is refused until then)`] with data.agentgate.config.budgets.maxTokenBudget as "lots"
	policy_messages(cfg_input({"timeout": "10m"}), "run-timeout") == [`timeout "10m" cannot be checked: the policy's budgets.maxTimeout is not set; ask the platform team to fix the policy config (this is refused until then)`] with data.agentgate.config.budgets.maxTimeout as null

	# and runs, whose overrides are checked against the same maximums
	count(policy_messages(run_input({"tokenBudget": 10}), "token-budget")) == 1 with data.agentgate.config.budgets.maxTokenBudget as "lots"
}

test_broken_token_cap_refuses if {
	mc_big := req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"maxTokens": 4096}}}))
	every broken in [null, "8192", {}] {
		m := policy_messages(mc_big, "model-token-cap") with data.agentgate.config.models.maxTokensPerCall as broken
		count(m) == 1
		m2 := policy_messages(req("ModelConfig", "kagent.dev", object.union(model_claude, {"spec": {"anthropic": {"maxTokens": "lots"}}})), "model-token-cap") with data.agentgate.config.models.maxTokensPerCall as broken
		count(m2) == 1
	}
	policy_messages(mc_big, "model-token-cap") == ["4096 tokens per call exceeds the maximum of (not configured); set it to (not configured) or less"] with data.agentgate.config.models.maxTokensPerCall as null
}

test_broken_approval_globs_keep_their_message if {
	inp := cfg_input({"toolServers": [{"ref": {"name": "kagent-tool-server", "namespace": "kagent"}, "allowedTools": ["k8s_get_x"]}]})
	policy_messages(inp, "tool-approval") == [`tool "k8s_get_x" changes cluster state (matches "*get*") and must pause for human approval; add "k8s_get_x" to requireApproval`] with data.agentgate.config.tools.requireApproval as [5, "*get*", {"a": 1}]
}

test_whole_config_missing_still_refuses if {
	inp := cfg_input({"tokenBudget": "lots", "networkPolicy": "permissive", "rbac": {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}, "approval": {"approverGroups": ["x"]}})
	vs := agentgate.violations with input as inp with data.agentgate.config as null
	{v.policy | some v in vs} == {"token-budget", "network-strict", "rbac-scope", "approval-groups", "model-allowlist", "tool-allowlist", "run-timeout", "max-iterations"}
	every v in vs {
		is_string(v.message)
		v.message != ""
	}
}
