package agentgate_test

import rego.v1

import data.agentgate

approval_findings(groups) := {v.field: v.message | some v in agentgate.violations with input as cfg_input({"approval": {"required": true, "approverGroups": groups}}); v.policy == "approval-groups"}

test_approval_groups_subset_of_policy_admitted if {
	approval_findings(["agent-approvers"]) == {}
	approval_findings([]) == {}
	count(ids(cfg_input({"approval": {"required": true}}))) == 0
	approval_findings(["team-leads"]) == {} with data.agentgate.config.approval.approverGroups as ["agent-approvers", "team-leads"]
}

test_approval_groups_outside_policy_refused if {
	approval_findings(["agent-approvers", "team-leads"]) == {"spec.approval.approverGroups[1]": `group "team-leads" is not an approver group the policy allows; allowed: agent-approvers. Remove it, or remove approverGroups to use the policy's groups`}
}

test_approval_groups_system_groups_refused if {
	every g in ["system:authenticated", "system:masters", "system:serviceaccounts", "system:serviceaccounts:qe"] {
		approval_findings([g]) == {"spec.approval.approverGroups[0]": sprintf(`group "%s" is a Kubernetes system group, which is never an approver group (its members are users and components nobody chose); remove it`, [g])}
	}

	# even when the policy lists one
	count(approval_findings(["system:authenticated"])) == 1 with data.agentgate.config.approval.approverGroups as ["system:authenticated"]
}

test_approval_groups_wrong_shape_refused if {
	approval_findings("agent-approvers") == {"spec.approval.approverGroups": `approverGroups must be a list of group names, got "agent-approvers"; allowed: a subset of agent-approvers. Set it to such a list, or remove it to use the policy's groups`}
	count(approval_findings([5])) == 1
}

# item 8: the policy's groups missing or of the wrong type refuse every group, with a message
test_approval_groups_broken_config_still_denies if {
	every groups in [null, "agent-approvers", [5]] {
		fs := approval_findings(["agent-approvers"]) with data.agentgate.config.approval.approverGroups as groups
		fs == {"spec.approval.approverGroups[0]": `group "agent-approvers" is not an approver group the policy allows; allowed: none. Remove it, or remove approverGroups to use the policy's groups`}
	}
	count(approval_findings(["agent-approvers"])) == 1 with data.agentgate.config.approval as null
}
