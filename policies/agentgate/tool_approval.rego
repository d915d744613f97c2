package agentgate

import rego.v1

violations contains finding("tool-approval", concat(".", [r.field, "requireApproval"]), msg) if {
	some r in tool_refs
	some t in list_or_empty(r.tools)
	is_string(t)
	some g in list_or_empty(cfg.tools.requireApproval)
	matches(g, t)
	not t in list_or_empty(r.approval)
	msg := approval_message(t, g)
}

approval_message(t, g) := m if {
	m := sprintf("tool \"%s\" changes cluster state (matches \"%s\") and must pause for human approval; add \"%s\" to requireApproval", [t, g, t])
} else := "this tool changes cluster state (tools.requireApproval) and must pause for human approval; add it to requireApproval"
