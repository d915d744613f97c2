# A team's first rule, stacked on agentgate's default bundle: every
# AgentConfig names the team that owns it. Rolled out as a warning first;
# once audit shows no AgentConfig without the label, set rollout to "deny",
# rebuild and roll the new bundle out (README, "Write your first rule").
package agentgate

import rego.v1

rollout := "warn"

violations contains finding if {
	input.request.kind.kind == "AgentConfig"
	not input.request.object.metadata.labels.team
	finding := {
		"policy": "team-label",
		"field": "metadata.labels.team",
		"message": "no team label; add metadata.labels.team naming the team that owns this agent (e.g. team: qe)",
		"action": rollout,
	}
}
