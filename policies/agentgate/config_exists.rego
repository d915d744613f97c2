package agentgate

import rego.v1

violations contains finding("config-exists", "spec.configRef.name", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	input.context.agentConfig == null
	name := config_ref_name
	msg := sprintf("AgentConfig \"%s\" does not exist in namespace \"%s\"; create the AgentConfig first or set spec.configRef.name to an existing one (kubectl get agentconfigs -n %s)", [name, ns, ns])
}

# A reference of the wrong shape names no AgentConfig: refused (fail closed),
# saying what the field must look like. The API server's schema check would
# refuse it too, but `agentgate review` and the mutating pass see it first.
violations contains finding("config-exists", "spec.configRef.name", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	not config_ref_name
	msg := sprintf("spec.configRef must name an AgentConfig as {name: <AgentConfig>}, got %s; set spec.configRef.name to an AgentConfig in namespace \"%s\" (kubectl get agentconfigs -n %s)", [shown(object.get(spec, "configRef", null)), ns, ns])
}

config_ref_name := n if {
	n := spec.configRef.name
	is_string(n)
	n != ""
}

shown(v) := "nothing" if v == null

else := json.marshal(v)
