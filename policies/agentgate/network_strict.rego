package agentgate

import rego.v1

# Refused unless the policy says true: a missing or malformed
# network.allowPermissive refuses, it does not allow.
violations contains finding("network-strict", "spec.networkPolicy", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	get(spec, "networkPolicy", "strict") == "permissive"
	not permissive_allowed
	msg := permissive_message
}

permissive_allowed if cfg.network.allowPermissive == true

permissive_message := m if {
	m := sprintf("permissive networking is not allowed in namespace \"%s\"; use strict (the run may then reach only DNS, its model endpoint and its tool servers)", [ns])
} else := "permissive networking is not allowed here; use strict (the run may then reach only DNS, its model endpoint and its tool servers)"
