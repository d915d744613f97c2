package agentgate

import rego.v1

violations contains finding("config-exists", "spec.configRef.name", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	input.context.agentConfig == null
	name := config_ref_name
	msg := config_missing_message(name)
}

config_missing_message(name) := m if {
	m := sprintf("AgentConfig \"%s\" does not exist in namespace \"%s\"; create the AgentConfig first or set spec.configRef.name to an existing one (kubectl get agentconfigs -n %s)", [name, ns, ns])
} else := "the AgentConfig named in spec.configRef.name does not exist in this namespace; create it first or name an existing one (kubectl get agentconfigs)"

# A reference of the wrong shape names no AgentConfig: refused (fail closed),
# saying what the field must look like. The API server's schema check would
# refuse it too, but `agentgate review` and the mutating pass see it first.
violations contains finding("config-exists", "spec.configRef.name", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	not config_ref_name
	msg := config_ref_shape_message(get(spec, "configRef", null))
}

config_ref_shape_message(ref) := m if {
	m := sprintf("spec.configRef must name an AgentConfig as {name: <AgentConfig>}, got %s; set spec.configRef.name to an AgentConfig in namespace \"%s\" (kubectl get agentconfigs -n %s)", [shown(ref), ns, ns])
} else := "spec.configRef must name an AgentConfig as {name: <AgentConfig>}; set spec.configRef.name to an AgentConfig in this namespace (kubectl get agentconfigs)"

config_ref_name := n if {
	n := spec.configRef.name
	is_string(n)
	n != ""
}

shown(v) := "nothing" if v == null

else := json.marshal(v)
