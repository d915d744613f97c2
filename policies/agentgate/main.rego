# The entrypoints: agentgate/violations (every finding of every policy file of
# this package) and agentgate/defaults (filled in at mutation).
package agentgate

import rego.v1

default defaults := {}

defaults := {"spec": {
	"tokenBudget": cfg.budgets.defaultTokenBudget,
	"timeout": cfg.budgets.defaultTimeout,
	"maxIterations": cfg.budgets.defaultMaxIterations,
	"networkPolicy": "strict",
}} if is_kind("AgentConfig", "agent.tekton.dev")
