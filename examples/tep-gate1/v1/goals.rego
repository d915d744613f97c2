# TEP-0164's Gate 1 example rule (tektoncd/community#1263,
# teps/0164-agent-native-workflows.md, "Gate 1: Goal Admission (OPA)"), its
# logic unchanged, written in Rego v1 as OPA 1.x expects: `if` before each
# body, `contains` for the partial set, `:=` for the default.
package agent.goals

default allow := false

allow if {
	input.namespace in data.allowed_namespaces
}

deny contains msg if {
	some tool in input.requested_tools
	tool in data.write_tools
	not tool in input.require_approval
	msg := sprintf("write tool %s must have requireApproval set", [tool])
}
