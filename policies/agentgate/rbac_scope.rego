# rbac-scope: the run's Role holds exactly an AgentConfig's spec.rbac.rules,
# so every (apiGroup, resource, verb) a rule grants must be covered by one
# entry of the policy's allowlist, rbac.allowed. An allowlist, not a list of
# forbidden values: Kubernetes keeps adding resources and subresources
# (pods/ephemeralcontainers, serviceaccounts/token) that a denylist written
# earlier would let through.
package agentgate

import rego.v1

rbac_rules := list_or_empty(get(get(spec, "rbac", {}), "rules", []))

# The problems of rule i as [i, order, text]: one finding per rule, its
# problems in a fixed order.
rbac_issue contains [i, 0, msg] if {
	some i, rule in rbac_rules
	not is_object(rule)
	msg := rbac_not_a_rule(rule)
}

# A Role cannot hold nonResourceURLs: the API server refuses the Role, and
# the run would fail only when the controller creates it.
rbac_issue contains [i, 1, msg] if {
	some i, rule in rbac_rules
	urls := get(rule, "nonResourceURLs", [])
	urls != []
	urls != null
	msg := rbac_non_resource(urls)
}

rbac_issue contains [i, 2, msg] if {
	some i, rule in rbac_rules
	is_object(rule)
	not rbac_non_resource_rule(rule)
	bad := [k | some k in ["apiGroups", "resources", "verbs"]; not rbac_string_list(get(rule, k, null))]
	count(bad) > 0
	msg := rbac_shape(bad)
}

rbac_issue contains [i, 3, msg] if {
	some i, rule in rbac_rules
	wild := [k | some k in ["apiGroups", "resources", "verbs", "resourceNames"]; some x in list_or_empty(get(rule, k, [])); rbac_wildcard(x)]
	count(wild) > 0
	msg := rbac_wildcards(wild)
}

rbac_issue contains [i, 4, msg] if {
	some i, rule in rbac_rules
	uncovered := rbac_uncovered(rule)
	count(uncovered) > 0
	msg := rbac_not_covered(uncovered)
}

violations contains finding("rbac-scope", indexed("spec.rbac.rules", i), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some [i, _, _] in rbac_issue
	msg := concat("; ", [x[2] | some x in sort([x | some x in rbac_issue; x[0] == i])])
}

rbac_non_resource_rule(rule) if {
	urls := get(rule, "nonResourceURLs", [])
	urls != []
	urls != null
}

rbac_string_list(xs) if {
	is_array(xs)
	count(xs) > 0
	every x in xs { is_string(x) }
}

# "*" is every value; "*/scale" every resource's scale subresource. Any
# value holding "*" is refused rather than read.
rbac_wildcard(x) if {
	is_string(x)
	contains(x, "*")
}

rbac_values(rule, k) := {x | some x in list_or_empty(get(rule, k, [])); is_string(x); not rbac_wildcard(x)}

rbac_uncovered(rule) := {[g, r, v] |
	some g in rbac_values(rule, "apiGroups")
	some r in rbac_values(rule, "resources")
	some v in rbac_values(rule, "verbs")
	not rbac_covered(g, r, v)
} if is_object(rule)

rbac_covered(g, r, v) if {
	some e in cfg.rbac.allowed
	g in list_or_empty(get(e, "apiGroups", []))
	r in list_or_empty(get(e, "resources", []))
	v in list_or_empty(get(e, "verbs", []))
}

# --- messages (each ends in a static fallback: see lib.rego)

rbac_not_a_rule(rule) := m if {
	m := sprintf("%s is not a PolicyRule; write it as {apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"get\"]}", [json.marshal(rule)])
}

else := "is not a PolicyRule; write it as {apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"get\"]}"

rbac_non_resource(urls) := m if {
	m := sprintf("lists nonResourceURLs %s, which a namespaced Role cannot hold; remove nonResourceURLs from the rule (an agent run gets no cluster-wide permissions)", [json.marshal(urls)])
}

else := "lists nonResourceURLs, which a namespaced Role cannot hold; remove nonResourceURLs from the rule (an agent run gets no cluster-wide permissions)"

rbac_shape(keys) := m if {
	m := sprintf("%s must each be a non-empty list of strings (the API server refuses the Role otherwise); set them, e.g. {apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"get\"]}", [concat(", ", keys)])
}

else := "apiGroups, resources and verbs must each be a non-empty list of strings; set them, e.g. {apiGroups: [\"\"], resources: [\"pods\"], verbs: [\"get\"]}"

rbac_wildcards(keys) := m if {
	m := sprintf("has \"*\" in %s; wildcards are never granted; list the values the agent needs", [concat(", ", sort({k | some k in keys}))])
}

else := "has \"*\" in it; wildcards are never granted; list the values the agent needs"

rbac_not_covered(uncovered) := msg if {
	groups := sort({t[0] | some t in uncovered})
	grants := [concat(" ", [concat(", ", sort([concat(" on ", [t[2], t[1]]) | some t in uncovered; t[0] == g])), concat("", ["(", json.marshal(g), ")"])]) | some g in groups]
	allowed := [rbac_allowed_in(g) | some g in groups]
	msg := sprintf("grants %s, which the allowlist does not cover; allowed: %s. Remove them from the rule, or ask the platform team to add them to rbac.allowed", [concat("; ", grants), concat("; ", allowed)])
} else := "grants permissions the allowlist (rbac.allowed) does not cover; remove them from the rule, or ask the platform team to add them to rbac.allowed"

# What the allowlist grants in one API group, entry by entry.
rbac_allowed_in(g) := s if {
	entries := [concat(" on ", [str_list(get(e, "verbs", [])), str_list(get(e, "resources", []))]) |
		some e in list_or_empty(setting("rbac", "allowed"))
		g in list_or_empty(get(e, "apiGroups", []))
	]
	count(entries) > 0
	s := concat("", [concat(" and ", sort(entries)), " (", json.marshal(g), ")"])
} else := concat("", ["nothing in API group ", json.marshal(g)])
