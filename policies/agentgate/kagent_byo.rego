package agentgate

import rego.v1

# Refused unless the policy says true: a missing or malformed kagent.allowBYO
# refuses, it does not allow.
violations contains finding("kagent-byo", "spec.type", msg) if {
	is_kind("Agent", "kagent.dev")
	get(spec, "type", "Declarative") == "BYO"
	not byo_allowed
	msg := byo_message
}

byo_allowed if cfg.kagent.allowBYO == true

byo_message := m if {
	m := sprintf("bring-your-own agents run code agentgate cannot see and are not allowed in namespace \"%s\"; use type Declarative with an allowed ModelConfig and tool servers", [ns])
} else := "bring-your-own agents run code agentgate cannot see and are not allowed here; use type Declarative with an allowed ModelConfig and tool servers"
