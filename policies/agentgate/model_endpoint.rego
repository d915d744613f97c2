package agentgate

import rego.v1

violations contains finding("model-endpoint", "spec.tls.disableVerify", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	object.get(object.get(spec, "tls", {}), "disableVerify", false) == true
	msg := "TLS verification of the model endpoint is disabled, which is not allowed; remove spec.tls.disableVerify (give spec.tls a CA instead if the endpoint uses a private one)"
}

base_url_fields := {"openAI": "baseUrl", "anthropic": "baseUrl", "azureOpenAI": "azureEndpoint", "ollama": "host", "gemini": "baseUrl", "geminiVertexAI": "baseUrl", "anthropicVertexAI": "baseUrl"}

violations contains finding("model-endpoint", concat(".", ["spec", block, field]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	prefix := cfg.models.requiredBaseUrlPrefix
	is_string(prefix)
	prefix != ""
	some block, field in base_url_fields
	url := spec[block][field]
	not startswith(text(url), prefix)
	msg := sprintf("endpoint \"%s\" is not allowed; model traffic must go through %s. Set it to a URL starting with that prefix", [text(url), prefix])
}

violations contains finding("model-endpoint", "spec", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	prefix := cfg.models.requiredBaseUrlPrefix
	is_string(prefix)
	prefix != ""
	count([1 | some block, field in base_url_fields; spec[block][field]]) == 0
	msg := sprintf("no endpoint is set, so calls would go straight to the provider; model traffic must go through %s. Set the provider block's base URL to it", [prefix])
}
