# Shared helpers of the default bundle: the request, the effective config
# (base config with the namespace's profile merged over it) and the action
# findings take.
package agentgate

import rego.v1

obj := input.request.object

kind := input.request.kind.kind

group := input.request.kind.group

ns := object.get(input.request, "namespace", "")

# A run is judged once, at CREATE: its spec is frozen from then on
# (run-immutable) and its guardrails are stamped on it. Judging its later
# updates against a config that has since been tightened or deleted would
# block the updates a human needs most, such as spec.status: Cancelled.
evaluated if {
	input.request.operation == "CREATE"
	is_object(obj)
}

evaluated if {
	input.request.operation == "UPDATE"
	is_object(obj)
	not is_run
}

is_run if {
	kind == "AgentRun"
	group == "agent.tekton.dev"
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

# A label selects a profile only where the platform bound it
# (profiles.<name>.namespaces): a tenant who can label a namespace cannot
# pick a looser profile (enforcement: warn, wider rbac) for it.
profile := p if {
	raw := data.agentgate.config.profiles[profile_name]
	is_object(raw)
	profile_binds(raw)
	p := object.remove(raw, ["namespaces"])
} else := {}

profile_binds(p) if {
	is_object(input.context.namespace)
	name := object.get(input.context.namespace, "name", "")
	some pattern in p.namespaces
	namespace_matches(pattern, name)
}

namespace_matches(pattern, name) if {
	is_string(pattern)
	not endswith(pattern, "*")
	pattern == name
}

namespace_matches(pattern, name) if {
	is_string(pattern)
	endswith(pattern, "*")
	startswith(name, trim_suffix(pattern, "*"))
}

# Most namespaces have no profile: skip the merge for them.
cfg := data.agentgate.config if not has_profile

cfg := object.union(data.agentgate.config, profile) if has_profile

has_profile if count(profile) > 0

# A JSON path segment with an index, without a host call (sprintf is one).
indexed(prefix, i) := concat("", [prefix, "[", format_int(i, 10), "]"])

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
matches(pattern, value) if {
	fast_glob(pattern)
	fast_match(split(pattern, "*"), value)
}

matches(pattern, value) if {
	not fast_glob(pattern)
	glob.match(pattern, null, value)
}

# glob.match compiles its pattern on every call, which dominates evaluation
# time; the allowlists are nearly all "prefix*", "*infix*" or literals, and
# those are decided with string builtins, with glob's meaning.
glob_special(p) if contains(p, "?")

glob_special(p) if contains(p, "[")

glob_special(p) if contains(p, "{")

glob_special(p) if contains(p, "\\")

fast_glob(p) if {
	is_string(p)
	not glob_special(p)
	count(split(p, "*")) <= 2
}

fast_glob(p) if {
	is_string(p)
	not glob_special(p)
	parts := split(p, "*")
	count(parts) == 3
	parts[0] == ""
	parts[2] == ""
}

fast_match(parts, v) if {
	count(parts) == 1
	parts[0] == v
}

fast_match(parts, v) if {
	count(parts) == 2
	is_string(v)
	startswith(v, parts[0])
	endswith(v, parts[1])
	count(v) >= count(parts[0]) + count(parts[1])
}

fast_match(parts, v) if {
	count(parts) == 3
	is_string(v)
	contains(v, parts[1])
}

list_or_empty(x) := x if is_array(x)

else := []

str_list(xs) := concat(", ", sort([x | some x in xs; is_string(x)]))

allowed_models := s if {
	s := concat(", ", [concat("/", [m.provider, m.model]) | some m in cfg.models.allowed; is_string(m.provider); is_string(m.model)])
	s != ""
} else := "none"

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

# o[k] when o is an object holding k, else d: object.get is a type error
# (so undefined) on a string or a list where an object was expected.
get(o, k, d) := v if {
	is_object(o)
	v := o[k]
} else := d

# --- Messages never decide whether a finding exists.
#
# A finding's message may quote the policy config; a config value that is
# missing or of the wrong type must not make the message, and with it the
# whole finding, undefined (a broken config would then turn a rule off).
# Every rule binds its message through a function ending in
# `else := "<static text>"`, and quotes config values only through
# setting()/setting_list(), which are always defined. A rule that must fire
# when a config value is missing tests it through a rule or a function
# (`not limit_set`), never as `not f(cfg.x)`: OPA hoists a reference out of
# a negated call's arguments, and a missing value then fails the whole rule
# instead of negating.

# A config value to print with %v: the value, or "(not configured)".
setting(section, key) := v if {
	v := cfg[section][key]
	v != null
} else := "(not configured)"

# A config list of strings to print: "a, b", or "none".
setting_list(section, key) := s if {
	xs := cfg[section][key]
	is_array(xs)
	s := str_list(xs)
	s != ""
} else := "none"
