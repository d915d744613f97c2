package agent.goals_test

import future.keywords.if
import future.keywords.in

import data.agent.goals

# The input as agentgate builds it (docs/policy-contract.md, "The goal input").
run_input(ns, tools, gated) := {"goal": "write tests for refund()", "namespace": ns, "requested_tools": tools, "require_approval": gated, "config": "writer"}

test_namespace_listed_allowed if goals.allow with input as run_input("qe", ["k8s_get_resources"], [])

test_namespace_not_listed_not_allowed if not goals.allow with input as run_input("prod", ["k8s_get_resources"], [])

test_write_tool_without_approval_denied if {
	goals.deny == {"write tool k8s_apply_manifest must have requireApproval set"} with input as run_input("qe", ["k8s_apply_manifest", "k8s_get_resources"], [])
}

test_write_tool_with_approval_not_denied if {
	count(goals.deny) == 0 with input as run_input("qe", ["k8s_apply_manifest", "k8s_get_resources"], ["k8s_apply_manifest"])
}
