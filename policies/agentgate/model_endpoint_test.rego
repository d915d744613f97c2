package agentgate_test

import rego.v1

import data.agentgate

mc(s) := req("ModelConfig", "kagent.dev", {"metadata": {"name": "m"}, "spec": s})

ep_findings(s) := {v.field: v.message | some v in agentgate.violations with input as mc(s); v.policy == "model-endpoint"}

ep_list(s) := [v | some v in agentgate.violations with input as mc(s); v.policy == "model-endpoint"]

endpoint_of(s) := e if {
	e := agentgate.model_endpoint with input as mc(s)
}

openai_at(url) := {"provider": "OpenAI", "model": "gpt-4o", "openAI": {"baseUrl": url}}

ollama_at(host) := {"provider": "Ollama", "model": "llama3", "ollama": {"host": host}}

test_endpoint_selected_block_only if {
	endpoint_of({"provider": "Anthropic", "model": "claude-3", "anthropic": {"baseUrl": "https://proxy.example.com/v1"}}) == {"host": "proxy.example.com", "port": 443, "source": "spec.anthropic.baseUrl"}
	endpoint_of({"model": "gpt-4o"}) == {"host": "api.openai.com", "port": 443, "source": "spec.provider"}
	endpoint_of({"provider": "Gemini", "model": "gemini-2.5"}) == {"host": "generativelanguage.googleapis.com", "port": 443, "source": "spec.provider"}
	endpoint_of({"provider": "GeminiVertexAI", "model": "g", "geminiVertexAI": {"projectID": "p", "location": "europe-west4"}}) == {"host": "europe-west4-aiplatform.googleapis.com", "port": 443, "source": "spec.geminiVertexAI.location"}
	endpoint_of({"provider": "AnthropicVertexAI", "model": "c", "anthropicVertexAI": {"projectID": "p", "location": "global"}}).host == "aiplatform.googleapis.com"
	endpoint_of({"provider": "AnthropicVertexAI", "model": "c", "anthropicVertexAI": {"projectID": "p", "location": "eu"}}).host == "aiplatform.eu.rep.googleapis.com"
	endpoint_of({"provider": "Bedrock", "model": "b", "bedrock": {"region": "us-east-1"}}) == {"host": "bedrock-runtime.us-east-1.amazonaws.com", "port": 443, "source": "spec.bedrock.region"}
	endpoint_of(ollama_at("ollama.models:11434")) == {"host": "ollama.models", "port": 11434, "source": "spec.ollama.host"}
	endpoint_of({"provider": "AzureOpenAI", "model": "m", "azureOpenAI": {"azureEndpoint": "https://res.openai.azure.com/"}}).host == "res.openai.azure.com"
	endpoint_of({"provider": "SAPAICore", "model": "m", "sapAICore": {"baseUrl": "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com"}}).host == "api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com"
	endpoint_of({"provider": "Foundry", "model": "m", "foundry": {"deployment": "d", "endpoint": "https://x.services.ai.azure.com"}}).host == "x.services.ai.azure.com"
	endpoint_of({"provider": "Ollama", "model": "m", "ollama": {}}).none
	endpoint_of({"provider": "Nope", "model": "m"}).none
}

test_endpoint_decoy_block_refused if {
	fs := ep_findings({"provider": "Anthropic", "model": "claude-3", "openAI": {"baseUrl": "http://10.0.0.1"}})
	fs == {"spec.openAI": "spec.openAI is set but spec.provider is Anthropic, and kagent reads only the provider's own block; remove spec.openAI"}
	count(ep_findings({"provider": "Anthropic", "model": "claude-3", "anthropic": {"maxTokens": 10}})) == 0
}

# Before: any block's baseUrl under the prefix satisfied requiredBaseUrlPrefix,
# while kagent called the provider's own (here: OpenAI's public API, no proxy).
test_endpoint_decoy_no_longer_satisfies_the_prefix if {
	s := {"provider": "OpenAI", "model": "gpt-4o", "anthropic": {"baseUrl": "https://llm-proxy.internal/v1"}}
	fs := ep_findings(s) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
	fs.spec == "no endpoint is set, so calls would go straight to the provider; model traffic must go through https://llm-proxy.internal/. Set spec.openAI.baseUrl to a URL under it"
	fs["spec.anthropic"]
	s2 := {"provider": "OpenAI", "model": "gpt-4o", "openAI": {"baseUrl": "https://api.openai.com/v1"}, "anthropic": {"baseUrl": "https://llm-proxy.internal/v1"}}
	fs2 := ep_findings(s2) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
	fs2["spec.openAI.baseUrl"] == "endpoint \"https://api.openai.com/v1\" is not allowed; model traffic must go through https://llm-proxy.internal/. Set it to a URL starting with that prefix"
	ok := {"provider": "OpenAI", "model": "gpt-4o", "openAI": {"baseUrl": "https://llm-proxy.internal/v1"}}
	ep_findings(ok) == {} with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.internal/"
}

test_endpoint_prefix_for_providers_without_an_endpoint_field if {
	every s in [
		{"provider": "Gemini", "model": "g"},
		{"provider": "GeminiVertexAI", "model": "g", "geminiVertexAI": {"projectID": "p", "location": "us-central1"}},
		{"provider": "AnthropicVertexAI", "model": "c", "anthropicVertexAI": {"projectID": "p", "location": "us-east5"}},
		{"provider": "Bedrock", "model": "b", "bedrock": {"region": "us-east-1"}},
	] {
		fs := ep_findings(s) with data.agentgate.config.models.requiredBaseUrlPrefix as "https://llm-proxy.example.com/"
		count(fs) == 1
		contains(fs["spec.provider"], sprintf("provider %s has no endpoint field in kagent's ModelConfig, so its traffic cannot be routed through https://llm-proxy.example.com/; use a provider whose endpoint can be set (OpenAI with spec.openAI.baseUrl", [s.provider]))
	}
}

test_endpoint_prefix_ollama_host_gets_http if {
	ep_findings(ollama_at("ollama.llm:11434")) == {} with data.agentgate.config.models.requiredBaseUrlPrefix as "http://ollama.llm:11434"
	count(ep_list(ollama_at("other.llm:11434"))) == 2 with data.agentgate.config.models.requiredBaseUrlPrefix as "http://ollama.llm:11434"
}

refused_host(url, class) if {
	fs := ep_findings(openai_at(url))
	m := fs["spec.openAI.baseUrl"]
	contains(m, agentgate.class_text[class])
}

test_endpoint_non_public_hosts_refused if {
	refused_host("http://169.254.169.254/latest/meta-data", "link-local")
	refused_host("http://[fe80::1]/", "link-local")
	refused_host("http://[::ffff:169.254.169.254]/", "link-local")
	refused_host("http://[::ffff:a9fe:a9fe]/", "link-local")
	refused_host("http://[64:ff9b::169.254.169.254]/", "link-local")
	refused_host("http://127.0.0.1:8080/v1", "loopback")
	refused_host("http://[::1]:8080/v1", "loopback")
	refused_host("http://0.0.0.0/", "loopback")
	refused_host("http://localhost:11434", "loopback")
	refused_host("http://api.localhost", "loopback")
	refused_host("http://10.1.2.3/v1", "private-ip")
	refused_host("http://172.20.0.1/v1", "private-ip")
	refused_host("http://192.168.1.1/v1", "private-ip")
	refused_host("http://100.64.0.1/v1", "private-ip")
	refused_host("http://[fd00::1]/v1", "private-ip")
	refused_host("https://8.8.8.8/v1", "ip")
	refused_host("https://[2001:db8::1]/v1", "ip")
	refused_host("http://127.1/", "ip")
	refused_host("http://2130706433/", "ip")
	refused_host("http://0x7f.1/", "ip")
	refused_host("http://ollama/", "in-cluster")
	refused_host("http://ollama.models:11434", "in-cluster")
	refused_host("http://ollama.models.svc:11434", "in-cluster")
	refused_host("http://ollama.models.svc.cluster.local:11434", "in-cluster")
	refused_host("http://metadata.google.internal/", "in-cluster")
	refused_host("http://proxy.corp.lan/", "in-cluster")
}

test_endpoint_message_names_host_and_fix if {
	fs := ep_findings(openai_at("http://169.254.169.254/latest"))
	fs == {"spec.openAI.baseUrl": `endpoint "http://169.254.169.254/latest" reaches 169.254.169.254, a link-local address (where cloud metadata services answer), which a model endpoint may not be; allowed: a public host name, or one of models.allowedEndpoints (none). Point it at the provider's public endpoint, or ask the platform team to add "169.254.169.254:80" to models.allowedEndpoints`}
}

test_endpoint_public_hosts_admitted if {
	every url in ["https://api.openai.com/v1", "https://res.openai.azure.com", "https://openrouter.ai/api/v1", "https://api.example.co.uk:8443/v1", "http://llm.example.com"] {
		ep_findings(openai_at(url)) == {}
	}
}

test_endpoint_allowed_endpoints if {
	ep_findings(ollama_at("ollama.models:11434")) == {} with data.agentgate.config.models.allowedEndpoints as ["ollama.models:11434"]
	ep_findings(ollama_at("ollama.models:11434")) == {} with data.agentgate.config.models.allowedEndpoints as ["Ollama.Models"]
	count(ep_findings(ollama_at("ollama.models:11434"))) == 1 with data.agentgate.config.models.allowedEndpoints as ["ollama.models:80"]
	ep_findings(openai_at("http://[fd00::1]:8000/v1")) == {} with data.agentgate.config.models.allowedEndpoints as ["[fd00::1]:8000"]
	ep_findings(openai_at("http://10.0.0.5/v1")) == {} with data.agentgate.config.models.allowedEndpoints as ["10.0.0.5"]
}

test_endpoint_unjudgeable_urls_refused if {
	every url in [
		"https://user@api.openai.com/v1", "https://api.openai.com%2f@evil.com/", "https://api.openai.com\\@evil.com/",
		"ftp://api.openai.com", "HTTPS://api.openai.com", "api.openai.com/v1", "https://api.openai.com:0/", "https://api.openai.com:99999/",
		"https://api_openai.com/", "https://api.openai.com./", "https:///v1", "https://[fe80::1%25eth0]/", " https://api.openai.com",
	] {
		fs := ep_findings(openai_at(url))
		startswith(fs["spec.openAI.baseUrl"], sprintf("endpoint %s is not a URL agentgate can judge", [json.marshal(url)]))
	}
	contains(ep_findings(openai_at(5))["spec.openAI.baseUrl"], "endpoint 5 is not a URL agentgate can judge")
}

test_endpoint_region_spliced_into_host_refused if {
	fs := ep_findings({"provider": "Bedrock", "model": "b", "bedrock": {"region": "evil.com/x"}})
	fs["spec.bedrock.region"] == `region "evil.com/x" is not a region name such as us-east-1 or europe-west4 (it becomes part of the endpoint's host name); set it to the region the model runs in`
	count(ep_findings({"provider": "GeminiVertexAI", "model": "g", "geminiVertexAI": {"projectID": "p", "location": "169.254.169.254#"}})) == 1
	ep_findings({"provider": "GeminiVertexAI", "model": "g", "geminiVertexAI": {"projectID": "p", "location": "us-central1"}}) == {}
}

test_endpoint_foundry_endpoint_from_refused if {
	fs := ep_findings({"provider": "Foundry", "model": "m", "foundry": {"deployment": "d", "endpointFrom": {"name": "cm", "key": "endpoint"}}})
	fs == {"spec.foundry.endpointFrom": "the endpoint is read from a ConfigMap, which agentgate cannot judge; set spec.foundry.endpoint to the endpoint's URL instead of spec.foundry.endpointFrom"}
	ep_findings({"provider": "Foundry", "model": "m", "foundry": {"deployment": "d", "endpoint": "https://x.services.ai.azure.com", "endpointFrom": {"name": "cm", "key": "endpoint"}}}) == {}
}

test_endpoint_sap_auth_url_judged if {
	s := {"provider": "SAPAICore", "model": "m", "sapAICore": {"baseUrl": "https://api.ai.example.com", "authUrl": "http://169.254.169.254"}}
	contains(ep_findings(s)["spec.sapAICore.authUrl"], "a link-local address")
	ep_findings(json.patch(s, [{"op": "replace", "path": "/sapAICore/authUrl", "value": "https://auth.example.com"}])) == {}
}

# item 8: allowedEndpoints or the prefix missing or of the wrong type still refuse, with a message
test_endpoint_broken_config_still_denies if {
	every allowed in [null, "ollama.models", [5], {"a": 1}] {
		fs := ep_findings(ollama_at("ollama.models:11434")) with data.agentgate.config.models.allowedEndpoints as allowed
		contains(fs["spec.ollama.host"], "allowed: a public host name, or one of models.allowedEndpoints (none)")
	}
	fs := ep_findings(ollama_at("ollama.models:11434")) with data.agentgate.config.models as null
	count(fs) == 1
	fs2 := ep_findings(ollama_at("ollama.models:11434")) with data.agentgate.config.models.requiredBaseUrlPrefix as 7
	count(fs2) == 1
}
