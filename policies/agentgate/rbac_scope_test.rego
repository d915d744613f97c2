package agentgate_test

import rego.v1

import data.agentgate

rbac_findings(rules) := [v | some v in agentgate.violations with input as cfg_input({"rbac": {"rules": rules}}); v.policy == "rbac-scope"]

rbac_denied(rule) if count(rbac_findings([rule])) == 1

rbac_message(rules, i) := v.message if {
	some v in rbac_findings(rules)
	v.field == sprintf("spec.rbac.rules[%d]", [i])
}

core(resources, verbs) := {"apiGroups": [""], "resources": resources, "verbs": verbs}

test_rbac_default_read_rules_admitted if {
	rules := [
		core(["pods", "pods/log", "services", "endpoints", "configmaps", "events", "persistentvolumeclaims", "serviceaccounts"], ["get", "list", "watch"]),
		{"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"], "verbs": ["get", "list", "watch"]},
		{"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]},
		{"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["watch"]},
		{"apiGroups": ["tekton.dev"], "resources": ["pipelineruns", "taskruns", "pipelines", "tasks", "customruns"], "verbs": ["get", "list", "watch"]},
		# resourceNames narrow a rule: fine
		object.union(core(["configmaps"], ["get"]), {"resourceNames": ["settings"]}),
	]
	rbac_findings(rules) == []
}

# Each triple must be covered by one entry: "apps" verbs do not lend
# themselves to core resources.
test_rbac_triples_are_covered_one_by_one if {
	rbac_denied({"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get"]})
	m := rbac_message([{"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get"]}], 0)
	contains(m, `grants get on deployments (""); get on pods ("apps"), which the allowlist does not cover`)
}

test_rbac_refused_each if {
	rbac_denied(core(["pods/exec"], ["create"]))
	rbac_denied(core(["pods/exec"], ["get"]))
	rbac_denied(core(["pods/attach"], ["create"]))
	rbac_denied(core(["pods/portforward"], ["create"]))
	rbac_denied(core(["pods"], ["create"]))
	rbac_denied(core(["pods"], ["delete"]))
	rbac_denied(core(["serviceaccounts/token"], ["create"]))
	rbac_denied(core(["secrets"], ["get"]))
	rbac_denied(core(["secrets"], ["list"]))
	rbac_denied(core(["namespaces"], ["get"]))
	rbac_denied({"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["get"]})
	rbac_denied({"apiGroups": ["agent.tekton.dev"], "resources": ["agentruns/status"], "verbs": ["patch"]})
	rbac_denied({"apiGroups": ["agent.tekton.dev"], "resources": ["agentruns"], "verbs": ["get"]})
	rbac_denied({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get"]})
	rbac_denied({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]})
	rbac_denied({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate", "bind"]})
	rbac_denied({"apiGroups": ["kagent.dev"], "resources": ["agents"], "verbs": ["create"]})
	rbac_denied({"apiGroups": ["kagent.dev"], "resources": ["agents"], "verbs": ["get"]})
	rbac_denied(core(["serviceaccounts"], ["impersonate"]))
}

test_rbac_uncovered_message_lists_exactly_the_uncovered_triples if {
	m := rbac_message([core(["pods", "pods/exec"], ["get", "create"])], 0)
	m == `grants create on pods, create on pods/exec, get on pods/exec (""), which the allowlist does not cover; allowed: get, list, watch on configmaps, endpoints, events, persistentvolumeclaims, pods, pods/log, serviceaccounts, services (""). Remove them from the rule, or ask the platform team to add them to rbac.allowed`
}

test_rbac_message_names_a_group_with_nothing_allowed if {
	m := rbac_message([{"apiGroups": ["kagent.dev"], "resources": ["agents"], "verbs": ["get"]}], 0)
	contains(m, `grants get on agents ("kagent.dev"), which the allowlist does not cover; allowed: nothing in API group "kagent.dev".`)
}

test_rbac_wildcards_refused if {
	every rule in [
		core(["pods"], ["*"]),
		core(["*"], ["get"]),
		{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]},
		core(["*/log"], ["get"]),
		object.union(core(["pods"], ["get"]), {"resourceNames": ["*"]}),
	] {
		rbac_denied(rule)
		contains(rbac_message([rule], 0), "wildcards are never granted; list the values")
	}

	# a wildcard rule with a covered literal says only the wildcard
	rbac_message([core(["pods"], ["get", "*"])], 0) == `has "*" in verbs; wildcards are never granted; list the values the agent needs`
}

test_rbac_non_resource_urls_refused if {
	m := rbac_message([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}], 0)
	m == `lists nonResourceURLs ["/metrics"], which a namespaced Role cannot hold; remove nonResourceURLs from the rule (an agent run gets no cluster-wide permissions)`
	rbac_denied(object.union(core(["pods"], ["get"]), {"nonResourceURLs": ["/healthz"]}))
}

test_rbac_malformed_rules_refused if {
	rbac_denied("pods")
	rbac_denied({"resources": ["pods"], "verbs": ["get"]})
	rbac_denied(core([], ["get"]))
	rbac_denied(core(["pods"], "get"))
	rbac_denied(core(["pods", 5], ["get"]))
	contains(rbac_message([{"resources": ["pods"], "verbs": ["get"]}], 0), "apiGroups must each be a non-empty list of strings")
	contains(rbac_message(["pods"], 0), `"pods" is not a PolicyRule`)
}

test_rbac_one_finding_per_rule_with_its_index if {
	vs := rbac_findings([core(["pods"], ["get"]), core(["secrets"], ["get"]), core(["pods"], ["*", "delete"])])
	{v.field | some v in vs} == {"spec.rbac.rules[1]", "spec.rbac.rules[2]"}
	count(vs) == 2
	m := rbac_message([core(["pods"], ["*", "delete"])], 0)
	m == `has "*" in verbs; wildcards are never granted; list the values the agent needs; grants delete on pods (""), which the allowlist does not cover; allowed: get, list, watch on configmaps, endpoints, events, persistentvolumeclaims, pods, pods/log, serviceaccounts, services (""). Remove them from the rule, or ask the platform team to add them to rbac.allowed`
}

test_rbac_allowlist_is_the_config if {
	not "rbac-scope" in ids(cfg_input({"rbac": {"rules": [core(["secrets"], ["get"])]}})) with data.agentgate.config.rbac.allowed as [core(["secrets"], ["get"])]
	"rbac-scope" in ids(cfg_input({"rbac": {"rules": [core(["secrets"], ["get", "list"])]}})) with data.agentgate.config.rbac.allowed as [core(["secrets"], ["get"])]
}

# item 8: a missing or wrong-typed allowlist refuses everything, with a message
test_rbac_broken_allowlist_still_denies if {
	every allowed in [null, "pods", [5], [{"apiGroups": "", "resources": "pods", "verbs": "get"}]] {
		vs := rbac_findings([core(["pods"], ["get"])]) with data.agentgate.config.rbac.allowed as allowed
		count(vs) == 1
		contains(vs[0].message, `grants get on pods (""), which the allowlist does not cover; allowed: nothing in API group ""`)
	}
	vs := rbac_findings([core(["pods"], ["get"])]) with data.agentgate.config.rbac as "x"
	count(vs) == 1
}
