package agentgate

import rego.v1

# AgentConfig: via spec.modelConfigRef.
violations contains finding("model-allowlist", "spec.modelConfigRef", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	ref := object.get(spec, "modelConfigRef", {})
	msg := model_ref_problem(ref_name(ref), ref_ns(ref))
}

# kagent Agent: via spec.declarative.modelConfig (default-model-config).
violations contains finding("model-allowlist", "spec.declarative.modelConfig", msg) if {
	is_kind("Agent", "kagent.dev")
	object.get(spec, "type", "Declarative") != "BYO"
	declarative := object.get(spec, "declarative", {})
	name := object.get(declarative, "modelConfig", "default-model-config")
	msg := model_ref_problem(name, ns)
}

# ModelConfig itself.
violations contains finding("model-allowlist", "spec.model", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	provider := object.get(spec, "provider", "")
	model := object.get(spec, "model", "")
	not model_allowed(provider, model)
	msg := sprintf("ModelConfig \"%s\" uses %s/%s, which namespace \"%s\" does not allow; allowed: %s. Change spec.provider/spec.model to an allowed model", [obj_name, text(provider), text(model), ns, allowed_models])
}

ref_name(ref) := n if {
	n := ref.name
	is_string(n)
} else := ""

ref_ns(ref) := n if {
	n := ref.namespace
	is_string(n)
	n != ""
} else := ns

obj_name := n if {
	n := obj.metadata.name
	is_string(n)
} else := ""

text(x) := x if is_string(x)

else := sprintf("%v", [x]) if is_number(x)

else := "(unset)"

model_ref_problem(name, _) := msg if {
	name == ""
	msg := sprintf("no ModelConfig is named; set it to a ModelConfig that uses an allowed model (%s)", [allowed_models])
}

model_ref_problem(name, mns) := msg if {
	name != ""
	input.context.modelConfig == null
	msg := sprintf("ModelConfig \"%s/%s\" does not exist; create it first (with an allowed model: %s), then apply this again", [mns, name, allowed_models])
}

model_ref_problem(name, _) := msg if {
	name != ""
	mc := input.context.modelConfig
	is_object(mc)
	provider := object.get(object.get(mc, "spec", {}), "provider", "")
	model := object.get(object.get(mc, "spec", {}), "model", "")
	not model_allowed(provider, model)
	msg := sprintf("ModelConfig \"%s\" uses %s/%s, which namespace \"%s\" does not allow; allowed: %s. Point this at a ModelConfig with an allowed model", [name, text(provider), text(model), ns, allowed_models])
}
