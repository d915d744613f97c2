package agentgate

import rego.v1

violations contains finding("tool-approval", concat(".", [r.field, "requireApproval"]), msg) if {
	some r in tool_refs
	some t in list_or_empty(r.tools)
	is_string(t)
	some g in cfg.tools.requireApproval
	matches(g, t)
	not t in list_or_empty(r.approval)
	msg := sprintf("tool \"%s\" changes cluster state (matches \"%s\") and must pause for human approval; add \"%s\" to requireApproval", [t, g, t])
}
