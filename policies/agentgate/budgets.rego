# token-budget, run-timeout and max-iterations: limits of a config, and a
# run's overrides, which may only narrow its config's values.
package agentgate

import rego.v1

budget_kinds := {"AgentConfig", "AgentRun"}

budget_applies if {
	evaluated
	group == "agent.tekton.dev"
	kind in budget_kinds
}

config_spec := s if {
	s := input.context.agentConfig.spec
	is_object(s)
} else := {}

# --- token-budget

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	not int_value(v)
	msg := sprintf("tokenBudget %s is not a whole number of tokens; allowed: a whole number up to %d. Set spec.tokenBudget to a number such as %d", [json.marshal(v), cfg.budgets.maxTokenBudget, cfg.budgets.defaultTokenBudget])
}

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	int_value(v)
	v > cfg.budgets.maxTokenBudget
	msg := sprintf("tokenBudget %d exceeds the maximum of %d; set spec.tokenBudget to %d or less", [v, cfg.budgets.maxTokenBudget, cfg.budgets.maxTokenBudget])
}

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	v := spec.tokenBudget
	int_value(v)
	limit := object.get(config_spec, "tokenBudget", cfg.budgets.defaultTokenBudget)
	int_value(limit)
	v > limit
	v <= cfg.budgets.maxTokenBudget
	msg := sprintf("tokenBudget %d exceeds its AgentConfig's budget of %d; a run may only narrow it: set spec.tokenBudget to %d or less", [v, limit, limit])
}

# --- run-timeout

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	v := spec.timeout
	not duration_ns(v)
	msg := sprintf("timeout %s is not a duration; allowed: a Go duration string up to %s. Set spec.timeout to a value such as \"15m\" or \"1h30m\"", [json.marshal(v), cfg.budgets.maxTimeout])
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	d := duration_ns(spec.timeout)
	d > duration_ns(cfg.budgets.maxTimeout)
	msg := sprintf("timeout %s exceeds the maximum of %s; set spec.timeout to %s or less", [spec.timeout, cfg.budgets.maxTimeout, cfg.budgets.maxTimeout])
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	d := duration_ns(spec.timeout)
	limit := object.get(config_spec, "timeout", cfg.budgets.defaultTimeout)
	d > duration_ns(limit)
	d <= duration_ns(cfg.budgets.maxTimeout)
	msg := sprintf("timeout %s exceeds its AgentConfig's timeout of %s; a run may only narrow it: set spec.timeout to %s or less", [spec.timeout, limit, limit])
}

# --- max-iterations

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	not int_value(v)
	msg := sprintf("maxIterations %s is not a whole number of iterations; allowed: a whole number up to %d. Set spec.maxIterations to a number such as %d", [json.marshal(v), cfg.budgets.maxIterations, cfg.budgets.defaultMaxIterations])
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	int_value(v)
	v > cfg.budgets.maxIterations
	msg := sprintf("maxIterations %d exceeds the maximum of %d; set spec.maxIterations to %d or less", [v, cfg.budgets.maxIterations, cfg.budgets.maxIterations])
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	v := spec.maxIterations
	int_value(v)
	limit := object.get(config_spec, "maxIterations", cfg.budgets.defaultMaxIterations)
	int_value(limit)
	v > limit
	v <= cfg.budgets.maxIterations
	msg := sprintf("maxIterations %d exceeds its AgentConfig's %d; a run may only narrow it: set spec.maxIterations to %d or less", [v, limit, limit])
}
