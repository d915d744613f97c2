# Endpoints: which host a model endpoint reaches, and what kind of host
# that is. src/guardrails/endpoints.ts is the TypeScript twin the run's
# NetworkPolicy uses; test/opa/model-endpoint-differential.test.ts keeps
# the two in agreement (same host, port and source for the same spec).
package agentgate

import rego.v1

# --- Which block kagent reads, and its endpoint field.
#
# kagent's translator reads only the block of spec.provider
# (v0.9.0..v0.10.0-rc3, go/core/internal/controller/translator/agent/
# adk_api_translator.go translateModel, `switch model.Spec.Provider`); the
# provider defaults to OpenAI (go/api/v1alpha2/modelconfig_types.go).
# Foundry exists from v0.10.0-rc2.
provider_blocks := {
	"OpenAI": "openAI",
	"Anthropic": "anthropic",
	"AzureOpenAI": "azureOpenAI",
	"Ollama": "ollama",
	"Gemini": "gemini",
	"GeminiVertexAI": "geminiVertexAI",
	"AnthropicVertexAI": "anthropicVertexAI",
	"Bedrock": "bedrock",
	"SAPAICore": "sapAICore",
	"Foundry": "foundry",
}

# Providers whose block has a URL field naming the endpoint.
endpoint_fields := {
	"openAI": "baseUrl",
	"anthropic": "baseUrl",
	"azureOpenAI": "azureEndpoint",
	"ollama": "host",
	"sapAICore": "baseUrl",
	"foundry": "endpoint",
}

# The SDKs' public hosts when the base URL is left empty (openai-go,
# anthropic-sdk-go, go-genai defaults).
default_hosts := {
	"OpenAI": "api.openai.com",
	"Anthropic": "api.anthropic.com",
	"Gemini": "generativelanguage.googleapis.com",
}

model_provider(s) := p if {
	p := s.provider
	p != null
} else := "OpenAI"

model_block(s) := b if {
	b := get(s, provider_blocks[model_provider(s)], null)
	is_object(b)
} else := {}

# A non-empty string set at block[field], else undefined.
set_text(block, field) := v if {
	v := get(block, field, null)
	v != null
	v != ""
}

# The endpoint one ModelConfig spec reaches: {host, port, source} (source:
# the field that decides it), or {none: why} when it names none agentgate can
# judge. Never undefined for an object spec.
model_endpoint_of(s) := e if {
	block_name := provider_blocks[model_provider(s)]
	field := endpoint_fields[block_name]
	v := set_text(model_block(s), field)
	u := endpoint_url(v, block_name == "ollama")
	e := {"host": u.host, "port": u.port, "source": concat(".", ["spec", block_name, field])}
} else := {"none": "not a URL agentgate can judge"} if {
	block_name := provider_blocks[model_provider(s)]
	field := endpoint_fields[block_name]
	set_text(model_block(s), field)
} else := {"host": h, "port": 443, "source": "spec.provider"} if {
	h := default_hosts[model_provider(s)]
} else := {"host": h, "port": 443, "source": concat("", ["spec.", provider_blocks[p], ".location"])} if {
	p := model_provider(s)
	p in {"GeminiVertexAI", "AnthropicVertexAI"}
	h := vertex_host(get(model_block(s), "location", null))
} else := {"host": h, "port": 443, "source": "spec.bedrock.region"} if {
	model_provider(s) == "Bedrock"
	r := get(model_block(s), "region", null)
	cloud_region(r)
	h := concat("", ["bedrock-runtime.", r, ".amazonaws.com"])
} else := {"none": "the ModelConfig names no endpoint agentgate can judge"}

# Vertex AI's regional endpoints (go-genai and anthropic-sdk-go vertex):
# global and the multi-regions us and eu have their own hosts.
vertex_host("global") := "aiplatform.googleapis.com"

vertex_host(l) := concat("", ["aiplatform.", l, ".rep.googleapis.com"]) if l in {"us", "eu"}

vertex_host(l) := concat("", [l, "-aiplatform.googleapis.com"]) if {
	cloud_region(l)
	not l in {"global", "us", "eu"}
}

# us-east-1, europe-west4, us-gov-west-1: one DNS label.
cloud_region(r) if {
	is_string(r)
	regex.match(`^[a-z0-9]+(-[a-z0-9]+)*$`, r)
	count(r) <= 63
}

model_endpoint := model_endpoint_of(spec) if is_kind("ModelConfig", "kagent.dev")

# The host the model-endpoint policy judges for this ModelConfig (undefined
# when none): exposed for the differential test against endpoints.ts.
model_endpoint_host := model_endpoint.host

# --- Parsing: a URL as kagent's clients would read it, or undefined when it
# is not one agentgate can judge. Only http:// or https:// (lowercase, as
# kagent compares it), an authority without user info, percent-encoding or
# backslashes, a host name of letters, digits, dots and dashes or a bracketed
# IPv6 address, and a port from 1 to 65535. Strict on purpose: where URL
# parsers differ, the judged host and the reached host could differ.
# An Ollama host without a scheme gets "http://", as kagent gives it.
endpoint_url(v, ollama) := u if {
	is_string(v)
	full := ollama_url(v, ollama)
	scheme := url_scheme(full)
	rest := substring(full, count(scheme) + 3, -1)
	authority := split(split(split(rest, "/")[0], "?")[0], "#")[0]
	hp := url_authority(authority)
	port := url_port(hp[1], scheme)
	u := {"scheme": scheme, "host": hp[0], "port": port}
}

ollama_url(v, true) := v if startswith(v, "http://")

else := v if startswith(v, "https://")

else := concat("", ["http://", v])

ollama_url(v, false) := v

url_scheme(u) := "http" if startswith(u, "http://")

else := "https" if startswith(u, "https://")

url_authority(a) := [lower(inner), port] if {
	startswith(a, "[")
	close := indexof(a, "]")
	close > 1
	inner := substring(a, 1, close - 1)
	regex.match(`^[0-9A-Fa-f:.]+$`, inner)
	port := bracket_port(substring(a, close + 1, -1))
} else := [lower(a), ""] if {
	# a bare IPv6 address (an Ollama host written without brackets)
	count(split(a, ":")) > 2
	regex.match(`^[0-9A-Fa-f:.]+$`, a)
} else := [lower(parts[0]), port] if {
	parts := split(a, ":")
	count(parts) <= 2
	regex.match(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`, parts[0])
	port := array.concat(parts, [""])[1]
}

bracket_port("") := ""

bracket_port(s) := substring(s, 1, -1) if startswith(s, ":")

url_port("", "https") := 443

url_port("", "http") := 80

url_port(p, _) := n if {
	regex.match(`^[0-9]{1,5}$`, p)
	n := to_number(p)
	n >= 1
	n <= 65535
}

# --- What kind of host: "public", "ip", "private-ip", "link-local",
# "loopback" or "in-cluster" (a name that resolves only inside the cluster
# or a private network: one label, *.svc, *.cluster.local, name.namespace,
# *.internal, or any name whose last label is not a public top-level domain).
host_class(h) := "loopback" if {
	h == "localhost"
} else := "loopback" if {
	endswith(h, ".localhost")
} else := c if {
	contains(h, ":")
	c := ipv6_class(h)
} else := c if {
	o := ipv4_octets(h)
	c := ipv4_class(o[0], o[1])
} else := "ip" if {
	numeric_name(h)
} else := "public" if {
	labels := split(h, ".")
	count(labels) > 1
	public_tld(labels[count(labels) - 1])
} else := "in-cluster"

# A dotted quad as Go reads one: no leading zeros, each part up to 255.
ipv4_octets(h) := o if {
	regex.match(`^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$`, h)
	o := [to_number(x) | some x in split(h, ".")]
	every x in o { x <= 255 }
}

# inet_aton's other spellings of an address ("127.1", "2130706433",
# "0x7f.1"), which a C resolver accepts: never a name.
numeric_name(h) if {
	labels := split(h, ".")
	regex.match(`^[0-9]+$`, labels[count(labels) - 1])
}

numeric_name(h) if {
	some l in split(h, ".")
	regex.match(`^0x[0-9a-f]*$`, l)
}

ipv4_class(127, _) := "loopback"

ipv4_class(0, _) := "loopback"

ipv4_class(169, 254) := "link-local"

ipv4_class(a, b) := "private-ip" if ipv4_private(a, b)

ipv4_class(a, b) := "ip" if {
	not a in {0, 127}
	not [a, b] == [169, 254]
	not ipv4_private(a, b)
}

ipv4_private(10, _)

ipv4_private(172, b) if {
	b >= 16
	b <= 31
}

ipv4_private(192, 168)

# 100.64.0.0/10 (carrier-grade NAT), where some clusters put pods.
ipv4_private(100, b) if {
	b >= 64
	b <= 127
}

ipv6_class(h) := c if {
	w := ipv6_words(h)
	c := ipv6_words_class(w)
} else := "ip"

ipv6_words_class(w) := "loopback" if {
	array.slice(w, 0, 7) == [0, 0, 0, 0, 0, 0, 0]
	w[7] in {0, 1}
} else := "link-local" if {
	w[0] >= 65152 # fe80::/10
	w[0] <= 65215
} else := "private-ip" if {
	w[0] >= 64512 # fc00::/7
	w[0] <= 65023
} else := ipv4_class(floor(w[6] / 256), w[6] % 256) if {
	# ::ffff:a.b.c.d (IPv4-mapped), ::a.b.c.d (IPv4-compatible) and
	# 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address inside
	array.slice(w, 0, 6) in {[0, 0, 0, 0, 0, 65535], [0, 0, 0, 0, 0, 0], [100, 65435, 0, 0, 0, 0]}
} else := "ip"

# The eight 16-bit words of an IPv6 address, or undefined.
ipv6_words(h) := w if {
	halves := split(h, "::")
	count(halves) == 1
	w := ipv6_groups(h)
	count(w) == 8
} else := w if {
	halves := split(h, "::")
	count(halves) == 2
	head := ipv6_groups(halves[0])
	tail := ipv6_groups(halves[1])
	n := (8 - count(head)) - count(tail)
	n >= 1
	w := array.concat(array.concat(head, array.slice([0, 0, 0, 0, 0, 0, 0, 0], 0, n)), tail)
}

ipv6_groups("") := []

ipv6_groups(s) := w if {
	s != ""
	parts := split(s, ":")
	last := count(parts) - 1
	nested := [ipv6_part(p, i == last) | some i, p in parts]
	count(nested) == count(parts)
	w := [x | some ws in nested; some x in ws]
}

ipv6_part(p, _) := [hex_word(p)] if regex.match(`^[0-9a-f]{1,4}$`, p)

ipv6_part(p, true) := [(o[0] * 256) + o[1], (o[2] * 256) + o[3]] if o := ipv4_octets(p)

hex_word(p) := n if {
	x := concat("", ["000", p])
	y := substring(x, count(x) - 4, 4)
	n := (((hex_digit[substring(y, 0, 1)] * 4096) + (hex_digit[substring(y, 1, 1)] * 256)) + (hex_digit[substring(y, 2, 1)] * 16)) + hex_digit[substring(y, 3, 1)]
}

hex_digit := {"0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7, "8": 8, "9": 9, "a": 10, "b": 11, "c": 12, "d": 13, "e": 14, "f": 15}

# Top-level domains a public model endpoint can be under: the generic ones
# in common use and every ISO 3166 country code, plus uk and eu. A name under
# any other last label is read as in-cluster (fail closed: a platform team
# lists it in models.allowedEndpoints). endpoints.ts holds the same set.
public_tld(label) if contains(public_tlds_text, concat("", [" ", label, " "]))

# One string, not a set: a set literal of this size would be built on every
# evaluation, a string constant is not.
public_tlds_text := concat("", [
	" com net org edu gov mil int info biz name pro mobi asia tel travel jobs aero coop museum cat dev app cloud tech xyz site online store page ",
	"run live news blog shop space website host zone digital network systems services solutions works tools company global world today group ",
	"team studio design agency media top one link click icu vip club fun art inc llc ltd gmbh build codes software computer engineering science ",
	"academy center email land technology directory foundation institute google amazon aws microsoft azure ibm nvidia uk eu ad ae af ag ai al am ",
	"ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw ",
	"cx cy cz de dj dk dm do dz ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht ",
	"hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml ",
	"mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru ",
	"rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ",
	"ve vg vi vn vu wf ws ye yt za zm zw ",
])

# The same list as a set, for the differential test (never on a request's path).
public_tlds := {t | some t in split(trim_space(public_tlds_text), " ")}
