package agentgate

import rego.v1

violations contains finding("kagent-byo", "spec.type", msg) if {
	is_kind("Agent", "kagent.dev")
	object.get(spec, "type", "Declarative") == "BYO"
	cfg.kagent.allowBYO != true
	msg := sprintf("bring-your-own agents run code agentgate cannot see and are not allowed in namespace \"%s\"; use type Declarative with an allowed ModelConfig and tool servers", [ns])
}
