package agentgate

import rego.v1

violations contains finding("config-exists", "spec.configRef.name", msg) if {
	is_kind("AgentRun", "agent.tekton.dev")
	input.context.agentConfig == null
	ref := object.get(spec, "configRef", {})
	name := object.get(ref, "name", "")
	msg := sprintf("AgentConfig \"%s\" does not exist in namespace \"%s\"; create the AgentConfig first or set spec.configRef.name to an existing one (kubectl get agentconfigs -n %s)", [format_name(name), ns, ns])
}

format_name(n) := n if is_string(n)

else := ""
