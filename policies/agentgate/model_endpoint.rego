# model-endpoint: a ModelConfig reaches only what policy allowed. Only the
# block spec.provider selects is read (as kagent reads it: endpoints.rego);
# any other provider block is a decoy and refused. The endpoint must be a
# public host name, or listed in models.allowedEndpoints; the host of
# models.requiredBaseUrlPrefix counts as listed.
package agentgate

import rego.v1

violations contains finding("model-endpoint", "spec.tls.disableVerify", "TLS verification of the model endpoint is disabled, which is not allowed; remove spec.tls.disableVerify (give spec.tls a CA instead if the endpoint uses a private one)") if {
	is_kind("ModelConfig", "kagent.dev")
	get(get(spec, "tls", {}), "disableVerify", false) == true
}

# Decoys: kagent ignores every block but the provider's, and a rule that
# read them all (a pinned prefix, a token cap) could be satisfied by one.
violations contains finding("model-endpoint", concat(".", ["spec", block]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	some _, block in provider_blocks
	get(spec, block, null) != null
	block != object.get(provider_blocks, model_provider(spec), "")
	msg := decoy_block_message(block)
}

# An endpoint value agentgate cannot parse as its client would.
violations contains finding("model-endpoint", concat(".", ["spec", block, field]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	block := provider_blocks[model_provider(spec)]
	field := endpoint_fields[block]
	v := set_text(model_block(spec), field)
	not endpoint_url(v, block == "ollama")
	msg := unjudgeable_message(v)
}

# A Vertex location or Bedrock region that is not one DNS label would be
# spliced into the endpoint's host name.
violations contains finding("model-endpoint", concat(".", ["spec", block, field]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	[block, field] := region_field[model_provider(spec)]
	v := get(model_block(spec), field, null)
	v != null
	not region_ok(block, v)
	msg := region_message(field, v)
}

region_field := {"GeminiVertexAI": ["geminiVertexAI", "location"], "AnthropicVertexAI": ["anthropicVertexAI", "location"], "Bedrock": ["bedrock", "region"]}

region_ok("bedrock", v) if cloud_region(v)

region_ok(block, v) if {
	block != "bedrock"
	vertex_host(v)
}

# Foundry (v0.10.0-rc2+) may read its endpoint from a ConfigMap instead
# (resolveFoundryEndpoint): a value agentgate never sees.
violations contains finding("model-endpoint", "spec.foundry.endpointFrom", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	model_provider(spec) == "Foundry"
	not set_text(model_block(spec), "endpoint")
	get(model_block(spec), "endpointFrom", null) != null
	msg := "the endpoint is read from a ConfigMap, which agentgate cannot judge; set spec.foundry.endpoint to the endpoint's URL instead of spec.foundry.endpointFrom"
}

# The endpoint's host: public, or listed. Only a URL the ModelConfig gives
# is judged: a provider's default host and the Vertex and Bedrock regional
# hosts are public names by construction (and the region is checked above).
violations contains finding("model-endpoint", e.source, msg) if {
	e := model_endpoint
	e.host
	v := model_endpoint_value
	v != ""
	msg := endpoint_host_problem(e.host, e.port, v)
}

# SAP AI Core's OAuth URL is a second endpoint the agent calls.
violations contains finding("model-endpoint", "spec.sapAICore.authUrl", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	model_provider(spec) == "SAPAICore"
	v := set_text(model_block(spec), "authUrl")
	not endpoint_url(v, false)
	msg := unjudgeable_message(v)
}

violations contains finding("model-endpoint", "spec.sapAICore.authUrl", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	model_provider(spec) == "SAPAICore"
	v := set_text(model_block(spec), "authUrl")
	u := endpoint_url(v, false)
	msg := endpoint_host_problem(u.host, u.port, v)
}

model_endpoint_value := v if {
	block := provider_blocks[model_provider(spec)]
	v := set_text(model_block(spec), endpoint_fields[block])
} else := ""

endpoint_host_problem(host, port, value) := msg if {
	c := host_class(host)
	c != "public"
	not endpoint_listed(host, port)
	msg := host_message(host, port, c, value)
}

endpoint_listed(host, port) if {
	some e in endpoint_allowlist
	e in endpoint_spellings(host, port)
}

endpoint_allowlist contains lower(e) if {
	some e in list_or_empty(cfg.models.allowedEndpoints)
	is_string(e)
}

# The host of the required prefix is the platform's own proxy.
endpoint_allowlist contains concat(":", [u.host, format_int(u.port, 10)]) if {
	u := endpoint_url(cfg.models.requiredBaseUrlPrefix, false)
}

endpoint_spellings(host, port) := {host, concat(":", [host, p]), concat("", ["[", host, "]"]), concat("", ["[", host, "]:", p])} if {
	p := format_int(port, 10)
}

# --- requiredBaseUrlPrefix, on the selected block only

violations contains finding("model-endpoint", concat(".", ["spec", block, field]), msg) if {
	is_kind("ModelConfig", "kagent.dev")
	prefix := required_prefix
	block := provider_blocks[model_provider(spec)]
	field := endpoint_fields[block]
	v := set_text(model_block(spec), field)
	not startswith(text(ollama_url(text(v), block == "ollama")), prefix)
	msg := prefix_message(v, prefix)
}

violations contains finding("model-endpoint", "spec", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	prefix := required_prefix
	block := provider_blocks[model_provider(spec)]
	field := endpoint_fields[block]
	not set_text(model_block(spec), field)
	msg := no_endpoint_message(block, field, prefix)
}

violations contains finding("model-endpoint", "spec.provider", msg) if {
	is_kind("ModelConfig", "kagent.dev")
	prefix := required_prefix
	p := model_provider(spec)
	block := provider_blocks[p]
	not endpoint_fields[block]
	msg := no_endpoint_field_message(p, prefix)
}

required_prefix := p if {
	p := cfg.models.requiredBaseUrlPrefix
	is_string(p)
	p != ""
}

# --- messages (each ends in a static fallback: see lib.rego)

class_text := {
	"ip": "an IP address",
	"private-ip": "a private IP address",
	"link-local": "a link-local address (where cloud metadata services answer)",
	"loopback": "a loopback address (the agent's own pod)",
	"in-cluster": "a name that resolves only inside the cluster or a private network",
}

decoy_block_message(block) := m if {
	m := sprintf("spec.%s is set but spec.provider is %s, and kagent reads only the provider's own block; remove spec.%s", [block, text(model_provider(spec)), block])
} else := "a provider block other than spec.provider's is set, and kagent reads only the provider's own block; remove it"

unjudgeable_message(v) := m if {
	m := sprintf("endpoint %s is not a URL agentgate can judge; allowed: http:// or https://, a host name or [IPv6] address, an optional port, no user info, percent-encoding or backslashes before the path. Write it as https://host[:port]/path", [json.marshal(v)])
} else := "the endpoint is not a URL agentgate can judge; write it as https://host[:port]/path"

region_message(field, v) := m if {
	m := sprintf("%s %s is not a region name such as us-east-1 or europe-west4 (it becomes part of the endpoint's host name); set it to the region the model runs in", [field, json.marshal(v)])
} else := "the region is not a region name such as us-east-1 (it becomes part of the endpoint's host name); set it to the region the model runs in"

host_message(host, port, class, value) := m if {
	value != ""
	m := sprintf("endpoint %s reaches %s, %s, which a model endpoint may not be; allowed: a public host name, or one of models.allowedEndpoints (%s). Point it at the provider's public endpoint, or ask the platform team to add \"%s:%d\" to models.allowedEndpoints", [json.marshal(value), host, class_text[class], setting_list("models", "allowedEndpoints"), host, port])
} else := m if {
	m := sprintf("the endpoint reaches %s, %s, which a model endpoint may not be; allowed: a public host name, or one of models.allowedEndpoints (%s). Set it to a public region, or ask the platform team to add \"%s:%d\" to models.allowedEndpoints", [host, class_text[class], setting_list("models", "allowedEndpoints"), host, port])
} else := "the endpoint is not a public host name and not listed in models.allowedEndpoints; point it at the provider's public endpoint, or ask the platform team to list it"

prefix_message(v, prefix) := m if {
	m := sprintf("endpoint \"%s\" is not allowed; model traffic must go through %s. Set it to a URL starting with that prefix", [text(v), prefix])
} else := "the endpoint is not under models.requiredBaseUrlPrefix; model traffic must go through the platform's proxy. Set it to a URL starting with that prefix"

no_endpoint_message(block, field, prefix) := m if {
	m := sprintf("no endpoint is set, so calls would go straight to the provider; model traffic must go through %s. Set spec.%s.%s to a URL under it", [prefix, block, field])
} else := "no endpoint is set, so calls would go straight to the provider; model traffic must go through the platform's proxy (models.requiredBaseUrlPrefix). Set the provider block's endpoint to a URL under it"

no_endpoint_field_message(provider, prefix) := m if {
	m := sprintf("provider %s has no endpoint field in kagent's ModelConfig, so its traffic cannot be routed through %s; use a provider whose endpoint can be set (OpenAI with spec.openAI.baseUrl under that prefix, if the proxy speaks OpenAI's API), or ask the platform team for a profile without models.requiredBaseUrlPrefix", [text(provider), prefix])
} else := "this provider has no endpoint field in kagent's ModelConfig, so its traffic cannot be routed through models.requiredBaseUrlPrefix; use a provider whose endpoint can be set, such as OpenAI with spec.openAI.baseUrl"
