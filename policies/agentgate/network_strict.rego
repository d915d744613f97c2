package agentgate

import rego.v1

violations contains finding("network-strict", "spec.networkPolicy", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	object.get(spec, "networkPolicy", "strict") == "permissive"
	cfg.network.allowPermissive != true
	msg := sprintf("permissive networking is not allowed in namespace \"%s\"; use strict (the run may then reach only DNS, its model endpoint and its tool servers)", [ns])
}
