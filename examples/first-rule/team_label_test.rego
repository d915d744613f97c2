package agentgate_test

import rego.v1

import data.agentgate

review(kind, labels) := {"request": {"kind": {"kind": kind}, "object": {"metadata": {"name": "writer", "labels": labels}}}}

test_an_agentconfig_without_a_team_is_found if {
	some finding in agentgate.violations with input as review("AgentConfig", {})
	finding.policy == "team-label"
	finding.field == "metadata.labels.team"
	finding.action == "warn"
}

test_an_agentconfig_with_a_team_passes if {
	count(agentgate.violations) == 0 with input as review("AgentConfig", {"team": "qe"})
}

test_other_kinds_are_not_judged if {
	count(agentgate.violations) == 0 with input as review("AgentRun", {})
}

test_deny_once_rolled_out if {
	some finding in agentgate.violations with input as review("AgentConfig", {}) with agentgate.rollout as "deny"
	finding.action == "deny"
}
