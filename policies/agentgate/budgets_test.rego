package agentgate_test

import rego.v1

import data.agentgate

budget_messages(inp, policy) := {v.message | some v in agentgate.violations with input as inp; v.policy == policy}

test_budgets_no_unlimited_back_door_on_configs if {
	every v in [0, -1, -500000] {
		"token-budget" in ids(cfg_input({"tokenBudget": v}))
		"max-iterations" in ids(cfg_input({"maxIterations": v}))
	}
	every t in ["0s", "0", "-5m", "-1ns", "0h0m"] {
		"run-timeout" in ids(cfg_input({"timeout": t}))
	}
	not "token-budget" in ids(cfg_input({"tokenBudget": 1}))
	not "max-iterations" in ids(cfg_input({"maxIterations": 1}))
	not "run-timeout" in ids(cfg_input({"timeout": "1ns"}))
}

test_budgets_no_unlimited_back_door_on_runs if {
	every v in [0, -1] {
		"token-budget" in ids(run_input({"tokenBudget": v}))
		"max-iterations" in ids(run_input({"maxIterations": v}))
	}
	"run-timeout" in ids(run_input({"timeout": "0s"}))
	"run-timeout" in ids(run_input({"timeout": "-5m"}))
	count(ids(run_input({"tokenBudget": 1, "maxIterations": 1, "timeout": "1s"}))) == 0
}

test_budgets_below_one_messages if {
	budget_messages(cfg_input({"tokenBudget": 0}), "token-budget") == {"tokenBudget 0 is less than 1, and no value means unlimited; allowed: a whole number from 1 to 500000. Set spec.tokenBudget to a number such as 100000"}
	budget_messages(run_input({"maxIterations": -3}), "max-iterations") == {"maxIterations -3 is less than 1, and no value means unlimited; allowed: a whole number from 1 to 20. Set spec.maxIterations to a number such as 5"}
	budget_messages(cfg_input({"timeout": "-5m"}), "run-timeout") == {`timeout "-5m" is not above 0s, and no value means unlimited; allowed: a duration above 0s up to 1h. Set spec.timeout to a value such as 15m`}
}

# item 8: with the budgets config missing or of the wrong type, a finding a
# request earns without the config is still there, with a message.
test_budgets_findings_survive_a_broken_config if {
	# (`with` merges an object into the data, so a missing section is null)
	every budgets in [null, "x", {"maxTokenBudget": "lots", "defaultTokenBudget": [], "maxTimeout": 5, "defaultTimeout": 0, "maxIterations": {}, "defaultMaxIterations": null}] {
		tb := budget_messages(cfg_input({"tokenBudget": "lots"}), "token-budget") with data.agentgate.config.budgets as budgets
		count(tb) == 1
		tb0 := budget_messages(cfg_input({"tokenBudget": 0}), "token-budget") with data.agentgate.config.budgets as budgets
		count(tb0) == 1
		mi := budget_messages(cfg_input({"maxIterations": 2.5}), "max-iterations") with data.agentgate.config.budgets as budgets
		count(mi) == 1
		rt := budget_messages(cfg_input({"timeout": "soon"}), "run-timeout") with data.agentgate.config.budgets as budgets
		count(rt) == 1
		rt0 := budget_messages(cfg_input({"timeout": "0s"}), "run-timeout") with data.agentgate.config.budgets as budgets
		count(rt0) == 1
	}
	m := budget_messages(cfg_input({"tokenBudget": "lots"}), "token-budget") with data.agentgate.config.budgets as null
	m == {`tokenBudget "lots" is not a whole number of tokens; allowed: a whole number from 1 to (not configured). Set spec.tokenBudget to a number such as (not configured)`}
}
