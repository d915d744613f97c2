package agentgate

import rego.v1

violations contains finding("rbac-scope", concat(".", [indexed("spec.rbac.rules", i), "verbs"]), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some i, rule in list_or_empty(object.get(object.get(spec, "rbac", {}), "rules", []))
	bad := sort([v | some v in list_or_empty(object.get(rule, "verbs", [])); forbidden(v, cfg.rbac.forbiddenVerbs)])
	count(bad) > 0
	msg := sprintf("grants verb %s, which an agent run may not have (forbidden: %s); remove it and list the verbs the agent needs", [concat(", ", bad), str_list(cfg.rbac.forbiddenVerbs)])
}

violations contains finding("rbac-scope", concat(".", [indexed("spec.rbac.rules", i), "resources"]), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some i, rule in list_or_empty(object.get(object.get(spec, "rbac", {}), "rules", []))
	bad := sort([r | some r in list_or_empty(object.get(rule, "resources", [])); forbidden(base_resource(r), cfg.rbac.forbiddenResources)])
	count(bad) > 0
	msg := sprintf("grants access to %s, which an agent run may not have (forbidden: %s); remove it and list the resources the agent needs", [concat(", ", bad), str_list(cfg.rbac.forbiddenResources)])
}

# "*" in a rule is every value, so it hits anything forbidden; a forbidden
# "*" forbids a literal "*".
forbidden(v, list) if {
	is_string(v)
	v in list
}

forbidden(v, list) if {
	v == "*"
	count(list) > 0
}

base_resource(r) := split(r, "/")[0] if is_string(r)

else := r
