# approval-groups: who may approve a config's runs comes from policy. An
# AgentConfig may narrow the policy's approval.approverGroups (the gateway
# stamps the config's groups when set, else the policy's), never name a
# group of its own choosing: its author could otherwise name a group they
# belong to and approve their own work through a colleague's account, or a
# Kubernetes system group (system:authenticated) that every user is in.
package agentgate

import rego.v1

approver_groups_value := get(get(spec, "approval", {}), "approverGroups", [])

violations contains finding("approval-groups", "spec.approval.approverGroups", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	v := approver_groups_value
	v != null
	not is_array(v)
	msg := approval_groups_not_a_list(v)
}

violations contains finding("approval-groups", indexed("spec.approval.approverGroups", j), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some j, g in list_or_empty(approver_groups_value)
	is_string(g)
	startswith(g, "system:")
	msg := approval_group_system(g)
}

violations contains finding("approval-groups", indexed("spec.approval.approverGroups", j), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some j, g in list_or_empty(approver_groups_value)
	not approval_group_system_name(g)
	not approval_group_allowed(g)
	msg := approval_group_not_allowed(g)
}

approval_group_system_name(g) if {
	is_string(g)
	startswith(g, "system:")
}

approval_group_allowed(g) if {
	is_string(g)
	g in list_or_empty(cfg.approval.approverGroups)
}

approval_groups_not_a_list(v) := m if {
	m := sprintf("approverGroups must be a list of group names, got %s; allowed: a subset of %s. Set it to such a list, or remove it to use the policy's groups", [json.marshal(v), setting_list("approval", "approverGroups")])
} else := "approverGroups must be a list of group names; set it to a subset of the policy's approval.approverGroups, or remove it"

approval_group_system(g) := m if {
	m := sprintf("group \"%s\" is a Kubernetes system group, which is never an approver group (its members are users and components nobody chose); remove it", [g])
} else := "a Kubernetes system group (system:...) is never an approver group; remove it"

approval_group_not_allowed(g) := m if {
	m := sprintf("group %s is not an approver group the policy allows; allowed: %s. Remove it, or remove approverGroups to use the policy's groups", [json.marshal(g), setting_list("approval", "approverGroups")])
} else := "this group is not an approver group the policy allows (approval.approverGroups); remove it, or remove approverGroups to use the policy's groups"
