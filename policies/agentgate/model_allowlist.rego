package agentgate

import rego.v1

# AgentConfig: via spec.modelConfigRef.
violations contains finding("model-allowlist", "spec.modelConfigRef", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	not model_ref_elsewhere
	ref := get(spec, "modelConfigRef", {})
	msg := model_ref_problem(ref_name(ref), ns)
}

# kagent resolves a declarative Agent's ModelConfig by name in the Agent's
# own namespace only (kagent v0.9.0..v0.10.0-rc3,
# go/core/internal/controller/translator/agent/adk_api_translator.go
# translateModel: Get(NamespacedName{Namespace: agent namespace, Name})), and
# the run's Agent lives in the config's namespace: a ModelConfig elsewhere is
# never the one a run would use. Only the name the user wrote is printed,
# nothing of the object found there, and not whether it exists.
violations contains finding("model-allowlist", "spec.modelConfigRef.namespace", msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	model_ref_elsewhere
	ref := get(spec, "modelConfigRef", {})
	msg := model_elsewhere_message(ref.namespace, ref_name(ref))
}

model_ref_elsewhere if {
	other := get(get(spec, "modelConfigRef", {}), "namespace", "")
	other != null
	other != ""
	other != ns
}

model_elsewhere_message(other, name) := m if {
	m := sprintf("ModelConfig %s is in namespace %s, but kagent looks up an agent's ModelConfig only in the agent's own namespace (\"%s\"), so no run of this config could use it; set spec.modelConfigRef.namespace to \"%s\" or remove it, and create the ModelConfig %s in namespace \"%s\"", [json.marshal(name), json.marshal(other), ns, ns, json.marshal(name), ns])
} else := "the ModelConfig is in another namespace, but kagent looks up an agent's ModelConfig only in the agent's own namespace; remove spec.modelConfigRef.namespace and create the ModelConfig in this namespace"

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
	msg := model_config_not_allowed(provider, model)
}

model_config_not_allowed(provider, model) := m if {
	m := sprintf("ModelConfig \"%s\" uses %s/%s, which namespace \"%s\" does not allow; allowed: %s. Change spec.provider/spec.model to an allowed model", [obj_name, text(provider), text(model), ns, allowed_models])
} else := "this ModelConfig's provider/model is not allowed in this namespace (models.allowed); change spec.provider/spec.model to an allowed model"

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
	msg := no_model_named
}

model_ref_problem(name, mns) := msg if {
	name != ""
	input.context.modelConfig == null
	msg := model_missing(name, mns)
}

# Only ever called for a ModelConfig in the request's own namespace: what it
# prints of the ModelConfig (provider and model) is the requester's to read.
model_ref_problem(name, _) := msg if {
	name != ""
	mc := input.context.modelConfig
	is_object(mc)
	provider := get(get(mc, "spec", {}), "provider", "")
	model := get(get(mc, "spec", {}), "model", "")
	not model_allowed(provider, model)
	msg := model_ref_not_allowed(name, provider, model)
}

no_model_named := m if {
	m := sprintf("no ModelConfig is named; set it to a ModelConfig that uses an allowed model (%s)", [allowed_models])
} else := "no ModelConfig is named; set it to a ModelConfig that uses an allowed model (models.allowed)"

model_missing(name, mns) := m if {
	m := sprintf("ModelConfig \"%s/%s\" does not exist; create it first (with an allowed model: %s), then apply this again", [mns, name, allowed_models])
} else := "the ModelConfig named does not exist; create it first (with an allowed model), then apply this again"

model_ref_not_allowed(name, provider, model) := m if {
	m := sprintf("ModelConfig \"%s\" uses %s/%s, which namespace \"%s\" does not allow; allowed: %s. Point this at a ModelConfig with an allowed model", [name, text(provider), text(model), ns, allowed_models])
} else := "the ModelConfig named uses a model this namespace does not allow (models.allowed); point this at a ModelConfig with an allowed model"
