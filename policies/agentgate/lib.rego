# Shared helpers of the default bundle: the request, the effective config
# (base config with the namespace's profile merged over it) and the action
# findings take.
package agentgate

import rego.v1

obj := input.request.object

kind := input.request.kind.kind

group := input.request.kind.group

ns := object.get(input.request, "namespace", "")

evaluated if {
	input.request.operation in {"CREATE", "UPDATE"}
	is_object(obj)
}

is_kind(k, g) if {
	evaluated
	kind == k
	group == g
}

profile_name := name if {
	labels := object.get(object.get(input.context, "namespace", {}), "labels", {})
	is_object(labels)
	name := labels["agent.tekton.dev/guardrail-profile"]
	is_string(name)
}

profile := p if {
	p := data.agentgate.config.profiles[profile_name]
	is_object(p)
} else := {}

cfg := object.union(data.agentgate.config, profile)

action := a if {
	a := profile.enforcement
	a in {"warn", "dryrun"}
} else := "deny"

finding(policy, field, message) := {"policy": policy, "field": field, "message": message, "action": action}

spec := s if {
	s := obj.spec
	is_object(s)
} else := {}

# glob.match with null delimiters (not [], which means "."): model and tool names contain dots
# ("claude-3.5-sonnet") that must not stop a "*".
matches(pattern, value) if glob.match(pattern, null, value)

list_or_empty(x) := x if is_array(x)

else := []

str_list(xs) := concat(", ", sort([x | some x in xs; is_string(x)]))

allowed_models := concat(", ", [sprintf("%s/%s", [m.provider, m.model]) | some m in cfg.models.allowed])

model_allowed(provider, model) if {
	some m in cfg.models.allowed
	m.provider == provider
	matches(m.model, model)
}

duration_ns(d) := n if {
	is_string(d)
	n := time.parse_duration_ns(d)
}

int_value(v) if {
	is_number(v)
	v == floor(v)
}
