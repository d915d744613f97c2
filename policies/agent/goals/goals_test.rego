package agent.goals_test

import rego.v1

import data.agent.goals

goal_input(ns, goal) := {"goal": goal, "namespace": ns, "requested_tools": [], "require_approval": [], "config": "writer"}

test_shipped_config_allows_any_namespace if goals.allow with input as goal_input("qe", "write tests")

test_no_list_no_goal if not goals.allow with input as goal_input("qe", "write tests") with data.agentgate.config as {}

test_listed_namespaces_only if {
	cfg := {"goals": {"allowedNamespaces": ["qe", "dev"], "deniedPatterns": []}}
	goals.allow with input as goal_input("dev", "write tests") with data.agentgate.config as cfg
	not goals.allow with input as goal_input("prod", "write tests") with data.agentgate.config as cfg
}

test_no_namespace_listed_allows_none if {
	not goals.allow with input as goal_input("qe", "write tests") with data.agentgate.config as {"goals": {"allowedNamespaces": []}}
}

test_denied_pattern_refuses_with_its_reason_whatever_the_case if {
	cfg := {"goals": {"allowedNamespaces": ["*"], "deniedPatterns": [{"pattern": "\\bprod(uction)?\\b", "reason": "agents do not touch production"}]}}
	goals.deny == {`the goal matches "\\bprod(uction)?\\b", which this cluster's goal policy refuses (goals.deniedPatterns): agents do not touch production; rephrase the goal`} with input as goal_input("qe", "Clean up PRODUCTION namespaces") with data.agentgate.config as cfg
	count(goals.deny) == 0 with input as goal_input("qe", "write tests for refund()") with data.agentgate.config as cfg
}

test_a_pattern_without_reason if {
	cfg := {"goals": {"allowedNamespaces": ["*"], "deniedPatterns": [{"pattern": "rm -rf"}]}}
	goals.deny == {`the goal matches "rm -rf", which this cluster's goal policy refuses (goals.deniedPatterns); rephrase the goal`} with input as goal_input("qe", "then rm -rf /") with data.agentgate.config as cfg
}
