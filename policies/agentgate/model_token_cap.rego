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
	is_number(cfg.models.maxTokensPerCall)
	v > cfg.models.maxTokensPerCall
	msg := token_cap_over(v)
}

# A cap that is not a number cannot be checked: refused, not skipped.
token_cap_problem(v) := msg if {
	is_number(v)
	not token_cap_set
	msg := token_cap_over(v)
}

token_cap_problem(v) := msg if {
	not is_number(v)
	msg := token_cap_not_a_number(v)
}

token_cap_over(v) := m if {
	m := sprintf("%v tokens per call exceeds the maximum of %v; set it to %v or less", [v, setting("models", "maxTokensPerCall"), setting("models", "maxTokensPerCall")])
} else := "the tokens per call exceed the policy's models.maxTokensPerCall; set it lower"

token_cap_not_a_number(v) := m if {
	m := sprintf("%s is not a number of tokens; allowed: a whole number up to %v. Set it to %v or less", [json.marshal(v), setting("models", "maxTokensPerCall"), setting("models", "maxTokensPerCall")])
} else := "this is not a number of tokens; set it to a whole number within the policy's models.maxTokensPerCall"

token_cap_set if is_number(cfg.models.maxTokensPerCall)
