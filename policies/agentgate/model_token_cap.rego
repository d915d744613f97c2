package agentgate

import rego.v1

token_fields := {
	"openAI": ["maxTokens", "maxCompletionTokens"],
	"anthropic": ["maxTokens"],
	"azureOpenAI": ["maxTokens"],
	"gemini": ["maxOutputTokens"],
	"geminiVertexAI": ["maxOutputTokens"],
	"anthropicVertexAI": ["maxTokens"],
}

violations contains finding("model-token-cap", concat(".", ["spec", block, field]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	some block, fields in token_fields
	b := spec[block]
	is_object(b)
	some field in fields
	v := b[field]
	msg := token_cap_problem(v)
}

token_cap_problem(v) := msg if {
	is_number(v)
	v > cfg.models.maxTokensPerCall
	msg := sprintf("%v tokens per call exceeds the maximum of %v; set it to %v or less", [v, cfg.models.maxTokensPerCall, cfg.models.maxTokensPerCall])
}

token_cap_problem(v) := msg if {
	not is_number(v)
	msg := sprintf("%s is not a number of tokens; allowed: a whole number up to %v. Set it to %v or less", [json.marshal(v), cfg.models.maxTokensPerCall, cfg.models.maxTokensPerCall])
}
