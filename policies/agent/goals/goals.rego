# The default bundle's goal policy: TEP-0164's Gate 1 (agent/goals/allow,
# agent/goals/deny), explicit and in sight rather than an implicit allow-all.
# The TEP's R18 has goal submission fail closed when no goal policy is
# configured: agentgate refuses every AgentRun while no bundle in force
# answers Gate 1 (docs/policy-contract.md, "Gate 1"), and this is the one the
# embedded bundle brings. A goal is allowed in the namespaces
# goals.allowedNamespaces lists ("*": any, as the shipped config says) and refused when
# what the agent is sent (the goal and each hint) matches one of
# goals.deniedPatterns.
package agent.goals

import rego.v1

goals := object.get(data.agentgate.config, "goals", {})

default allow := false

# No list, no goal: the config must say where goals are allowed (its schema requires it).
allow if {
	some n in object.get(goals, "allowedNamespaces", [])
	n in {"*", input.namespace}
}

deny contains msg if {
	some p in object.get(goals, "deniedPatterns", [])
	regex.match(concat("", ["(?i)", p.pattern]), input.goal)
	msg := sprintf("the goal matches %s, which this cluster's goal policy refuses (goals.deniedPatterns)%s; rephrase the goal", [json.marshal(p.pattern), reason(p)])
}

reason(p) := concat("", [": ", p.reason]) if {
	is_string(p.reason)
	p.reason != ""
} else := ""
