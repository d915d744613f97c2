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

# Every limit is at least 1 (1ns for a timeout): 0 or a negative value is
# no "unlimited" setting, and a run's override must not read as one either.

# --- token-budget

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	not int_value(v)
	msg := tb_not_whole(v)
}

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	int_value(v)
	v < 1
	msg := tb_below_one(v)
}

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	int_value(v)
	int_value(cfg.budgets.maxTokenBudget)
	v > cfg.budgets.maxTokenBudget
	msg := tb_over_max(v)
}

violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	v := spec.tokenBudget
	int_value(v)
	limit := object.get(config_spec, "tokenBudget", cfg.budgets.defaultTokenBudget)
	int_value(limit)
	v > limit
	v <= cfg.budgets.maxTokenBudget
	msg := tb_over_config(v, limit)
}

# A maximum that is not a whole number cannot be checked: refused, not
# skipped (a broken config must not lift the limit).
violations contains finding("token-budget", "spec.tokenBudget", msg) if {
	budget_applies
	v := spec.tokenBudget
	int_value(v)
	v >= 1
	not budget_limit_whole("maxTokenBudget")
	msg := unchecked_limit("tokenBudget", v, "maxTokenBudget")
}

tb_not_whole(v) := m if {
	m := sprintf("tokenBudget %s is not a whole number of tokens; allowed: a whole number from 1 to %v. Set spec.tokenBudget to a number such as %v", [json.marshal(v), setting("budgets", "maxTokenBudget"), setting("budgets", "defaultTokenBudget")])
} else := "tokenBudget is not a whole number of tokens; set spec.tokenBudget to a whole number of at least 1 within the policy's budgets.maxTokenBudget"

tb_below_one(v) := m if {
	m := sprintf("tokenBudget %d is less than 1, and no value means unlimited; allowed: a whole number from 1 to %v. Set spec.tokenBudget to a number such as %v", [v, setting("budgets", "maxTokenBudget"), setting("budgets", "defaultTokenBudget")])
} else := "tokenBudget is less than 1, and no value means unlimited; set spec.tokenBudget to a whole number of at least 1"

tb_over_max(v) := m if {
	m := sprintf("tokenBudget %d exceeds the maximum of %v; set spec.tokenBudget to %v or less", [v, setting("budgets", "maxTokenBudget"), setting("budgets", "maxTokenBudget")])
} else := "tokenBudget exceeds the policy's maximum (budgets.maxTokenBudget); set spec.tokenBudget lower"

tb_over_config(v, limit) := m if {
	m := sprintf("tokenBudget %d exceeds its AgentConfig's budget of %d; a run may only narrow it: set spec.tokenBudget to %d or less", [v, limit, limit])
} else := "tokenBudget exceeds its AgentConfig's budget; a run may only narrow it: set spec.tokenBudget to the config's value or less"

# --- run-timeout

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	v := spec.timeout
	not duration_ns(v)
	msg := rt_not_duration(v)
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	d := duration_ns(spec.timeout)
	d <= 0
	msg := rt_not_positive(spec.timeout)
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	d := duration_ns(spec.timeout)
	d > duration_ns(cfg.budgets.maxTimeout)
	msg := rt_over_max(spec.timeout)
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	d := duration_ns(spec.timeout)
	limit := object.get(config_spec, "timeout", cfg.budgets.defaultTimeout)
	d > duration_ns(limit)
	d <= duration_ns(cfg.budgets.maxTimeout)
	msg := rt_over_config(spec.timeout, limit)
}

violations contains finding("run-timeout", "spec.timeout", msg) if {
	budget_applies
	d := duration_ns(spec.timeout)
	d > 0
	not budget_limit_duration("maxTimeout")
	msg := unchecked_limit("timeout", spec.timeout, "maxTimeout")
}

rt_not_duration(v) := m if {
	m := sprintf("timeout %s is not a duration; allowed: a Go duration string above 0s up to %v. Set spec.timeout to a value such as \"15m\" or \"1h30m\"", [json.marshal(v), setting("budgets", "maxTimeout")])
} else := "timeout is not a duration; set spec.timeout to a Go duration such as \"15m\" or \"1h30m\""

rt_not_positive(v) := m if {
	m := sprintf("timeout %s is not above 0s, and no value means unlimited; allowed: a duration above 0s up to %v. Set spec.timeout to a value such as %v", [json.marshal(v), setting("budgets", "maxTimeout"), setting("budgets", "defaultTimeout")])
} else := "timeout is not above 0s, and no value means unlimited; set spec.timeout to a positive duration such as \"15m\""

rt_over_max(v) := m if {
	m := sprintf("timeout %s exceeds the maximum of %v; set spec.timeout to %v or less", [v, setting("budgets", "maxTimeout"), setting("budgets", "maxTimeout")])
} else := "timeout exceeds the policy's maximum (budgets.maxTimeout); set spec.timeout lower"

rt_over_config(v, limit) := m if {
	m := sprintf("timeout %s exceeds its AgentConfig's timeout of %s; a run may only narrow it: set spec.timeout to %s or less", [v, limit, limit])
} else := "timeout exceeds its AgentConfig's timeout; a run may only narrow it: set spec.timeout to the config's value or less"

# --- max-iterations

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	not int_value(v)
	msg := mi_not_whole(v)
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	int_value(v)
	v < 1
	msg := mi_below_one(v)
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	int_value(v)
	int_value(cfg.budgets.maxIterations)
	v > cfg.budgets.maxIterations
	msg := mi_over_max(v)
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	v := spec.maxIterations
	int_value(v)
	limit := object.get(config_spec, "maxIterations", cfg.budgets.defaultMaxIterations)
	int_value(limit)
	v > limit
	v <= cfg.budgets.maxIterations
	msg := mi_over_config(v, limit)
}

violations contains finding("max-iterations", "spec.maxIterations", msg) if {
	budget_applies
	v := spec.maxIterations
	int_value(v)
	v >= 1
	not budget_limit_whole("maxIterations")
	msg := unchecked_limit("maxIterations", v, "maxIterations")
}

mi_not_whole(v) := m if {
	m := sprintf("maxIterations %s is not a whole number of iterations; allowed: a whole number from 1 to %v. Set spec.maxIterations to a number such as %v", [json.marshal(v), setting("budgets", "maxIterations"), setting("budgets", "defaultMaxIterations")])
} else := "maxIterations is not a whole number of iterations; set spec.maxIterations to a whole number of at least 1 within the policy's budgets.maxIterations"

mi_below_one(v) := m if {
	m := sprintf("maxIterations %d is less than 1, and no value means unlimited; allowed: a whole number from 1 to %v. Set spec.maxIterations to a number such as %v", [v, setting("budgets", "maxIterations"), setting("budgets", "defaultMaxIterations")])
} else := "maxIterations is less than 1, and no value means unlimited; set spec.maxIterations to a whole number of at least 1"

mi_over_max(v) := m if {
	m := sprintf("maxIterations %d exceeds the maximum of %v; set spec.maxIterations to %v or less", [v, setting("budgets", "maxIterations"), setting("budgets", "maxIterations")])
} else := "maxIterations exceeds the policy's maximum (budgets.maxIterations); set spec.maxIterations lower"

mi_over_config(v, limit) := m if {
	m := sprintf("maxIterations %d exceeds its AgentConfig's %d; a run may only narrow it: set spec.maxIterations to %d or less", [v, limit, limit])
} else := "maxIterations exceeds its AgentConfig's; a run may only narrow it: set spec.maxIterations to the config's value or less"

unchecked_limit(field, v, key) := m if {
	m := sprintf("%s %s cannot be checked: the policy's budgets.%s %s; ask the platform team to fix the policy config (this is refused until then)", [field, json.marshal(v), key, described_limit(key)])
} else := "this limit cannot be checked: the policy's budgets config is broken; ask the platform team to fix it (this is refused until then)"

described_limit(key) := concat("", ["is ", json.marshal(v), ", not a limit"]) if {
	v := cfg.budgets[key]
	v != null
} else := "is not set"

# (A function, so that `not` sees the config value missing: OPA hoists a
# reference out of a negated call's arguments, and a missing value would
# then fail the whole rule instead of negating.)
budget_limit_whole(key) if int_value(cfg.budgets[key])

budget_limit_duration(key) if duration_ns(cfg.budgets[key])
