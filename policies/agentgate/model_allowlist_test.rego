package agentgate_test

import rego.v1

import data.agentgate

model_findings(inp) := [v | some v in agentgate.violations with input as inp; v.policy == "model-allowlist"]

cross_ns_config(mns, mc) := with_ctx(req("AgentConfig", "agent.tekton.dev", json.patch(good_config, [{"op": "add", "path": "/spec/modelConfigRef/namespace", "value": mns}])), {"modelConfig": mc})

test_model_cross_namespace_denied if {
	# whatever the other namespace holds: an allowed model, a refused one, nothing
	every mc in [model_claude, model_old, null] {
		vs := model_findings(cross_ns_config("shared", mc))
		count(vs) == 1
		vs[0].field == "spec.modelConfigRef.namespace"
		vs[0].message == `ModelConfig "claude" is in namespace "shared", but kagent looks up an agent's ModelConfig only in the agent's own namespace ("qe"), so no run of this config could use it; set spec.modelConfigRef.namespace to "qe" or remove it, and create the ModelConfig "claude" in namespace "qe"`
	}
}

test_model_cross_namespace_never_shows_the_other_object if {
	every v in model_findings(cross_ns_config("shared", model_old)) {
		not contains(v.message, "gpt-3.5")
		not contains(v.message, "OpenAI")
		not contains(v.message, "does not exist")
	}
}

test_model_own_namespace_written_out_is_fine if {
	model_findings(cross_ns_config("qe", model_claude)) == []
	model_findings(cross_ns_config("", model_claude)) == []
}

test_model_cross_namespace_not_a_string if {
	vs := model_findings(cross_ns_config(5, model_claude))
	count(vs) == 1
	contains(vs[0].message, "is in namespace 5")
}

# item 8: the allowlist missing or of the wrong type still refuses, with a message
test_model_allowlist_broken_config_still_denies if {
	every allowed in [null, "claude-*", [{"provider": 1, "model": ["x"]}]] {
		vs := model_findings(req("ModelConfig", "kagent.dev", model_claude)) with data.agentgate.config.models.allowed as allowed
		count(vs) == 1
		contains(vs[0].message, "allowed: none")
		vs2 := model_findings(with_ctx(req("AgentConfig", "agent.tekton.dev", good_config), {"modelConfig": model_claude})) with data.agentgate.config.models.allowed as allowed
		count(vs2) == 1
		vs3 := model_findings(with_ctx(req("AgentConfig", "agent.tekton.dev", good_config), {"modelConfig": null})) with data.agentgate.config.models.allowed as allowed
		contains(vs3[0].message, "does not exist")
	}
	vs := model_findings(req("ModelConfig", "kagent.dev", model_claude)) with data.agentgate.config.models as null
	count(vs) == 1
}
