# kagent-agent-fields: a kagent Agent created directly gets no more than a
# run would. kagent copies every field of an Agent into the agent's pod
# unchanged (kagent v0.9.0..v0.10.0-rc3, translator/agent/deployments.go
# resolveInlineDeployment, manifest_builder.go buildPodTemplate), so each
# field an Agent may set is listed in kagent.agentFields (spec paths, "[]"
# for any list item; a path allows everything under it) and every other
# field that is set is refused, naming its path and what it would do.
# spec.byo is kagent-byo's to judge. Agents agentgate's controller creates
# are not evaluated here (the gateway admits them from its own identity).
package agentgate

import rego.v1

# The allowed paths: a set for "is this field allowed", and one
# newline-separated text for "does this field lead to an allowed one" (a
# line starts with it and "." or "[]"): one lookup or one string scan per
# field, nothing built per allowlist entry (the allowlist is read on every
# evaluation; nothing is precomputed).
agent_fields_allowed contains f if {
	some f in list_or_empty(cfg.kagent.agentFields)
	is_string(f)
}

agent_fields_text := concat("", ["\n", concat("\n", [f | some f in agent_fields_allowed; not contains(f, "\n")]), "\n"])

field_leads_to_allowed(pattern) if contains(agent_fields_text, concat("", ["\n", pattern, "."]))

field_leads_to_allowed(pattern) if contains(agent_fields_text, concat("", ["\n", pattern, "[]"]))

violations contains finding("kagent-agent-fields", field, msg) if {
	is_kind("Agent", "kagent.dev")
	not "spec" in agent_fields_allowed
	some level in [agent_fields_1, agent_fields_2, agent_fields_3, agent_fields_4, agent_fields_5, agent_fields_6, agent_fields_7]
	some field, [pattern, value, "refused"] in level
	not empty_value(value)
	msg := agent_field_message(field, pattern)
}

# The fields set, level by level, as {field: [pattern, value, verdict]}
# (field: the path with indexes; pattern: with "[]" for any item, as
# kagent.agentFields spells it). A field is "allowed" (and all under it),
# "inside" (it leads to an allowed field: its children are judged one by
# one) or "refused". What is visited is bounded by the allowlist, not by
# the Agent's size. A scalar where an allowed field lies below, and a field
# at the seventh level on the way to one, are refused as they stand.
agent_fields_1[f] := [f, v, field_verdict(f, v, 1)] if {
	is_kind("Agent", "kagent.dev")
	some k, v in spec
	k != "byo"
	f := concat(".", ["spec", k])
}

agent_fields_2[f] := x if some f, x in agent_field_children(agent_fields_1, 2)

agent_fields_3[f] := x if some f, x in agent_field_children(agent_fields_2, 3)

agent_fields_4[f] := x if some f, x in agent_field_children(agent_fields_3, 4)

agent_fields_5[f] := x if some f, x in agent_field_children(agent_fields_4, 5)

agent_fields_6[f] := x if some f, x in agent_field_children(agent_fields_5, 6)

agent_fields_7[f] := x if some f, x in agent_field_children(agent_fields_6, 7)

agent_field_children(level, depth) := {cf: [cp, c, field_verdict(cp, c, depth)] |
	some f, [p, v, "inside"] in level
	some k, c in v
	cf := child_field(f, k)
	cp := child_pattern(p, k)
}

field_verdict(pattern, value, depth) := "allowed" if {
	pattern in agent_fields_allowed
} else := "inside" if {
	depth < 7
	is_collection(value)
	field_leads_to_allowed(pattern)
} else := "refused"

is_collection(v) if is_object(v)

is_collection(v) if is_array(v)

child_field(f, k) := concat("", [f, "[", format_int(k, 10), "]"]) if is_number(k)

else := concat(".", [f, k])

child_pattern(p, k) := concat("", [p, "[]"]) if is_number(k)

else := concat(".", [p, k])

# Set to nothing: kagent reads null, false, [] and {} as unset.
empty_value(v) if v == null

empty_value(v) if v == false

empty_value(v) if v == []

empty_value(v) if v == {}

# What each field kagent offers would do, from its CRD and translator.
agent_field_reasons := {
	"spec.skills": "loads skills from OCI images, git or S3 into the agent through an init container and makes its container privileged (runs other code)",
	"spec.sandbox": "sets the network reach of the agent's code sandbox (changes reach)",
	"spec.allowedNamespaces": "lets agents in other namespaces call this agent, with its model and tools (widens who can use it)",
	"spec.declarative.systemMessageFrom": "has kagent read a Secret or ConfigMap into the prompt sent to the model (reads data)",
	"spec.declarative.promptTemplate": "has kagent read ConfigMaps into the prompt sent to the model (reads data)",
	"spec.declarative.executeCodeBlocks": "lets the agent run the code it writes, in a privileged container (runs other code)",
	"spec.declarative.memory": "names a second ModelConfig, which model-allowlist does not check, and keeps data across sessions",
	"spec.declarative.context": "names a summarizer ModelConfig, which model-allowlist does not check",
	"spec.declarative.shareTools": "gives the agent tools that create share links to its sessions (exposes them)",
	"spec.declarative.deployment.imageRegistry": "pulls the agent's image from another registry (runs other code)",
	"spec.declarative.deployment.extraContainers": "runs other containers beside the agent, with any image (runs other code)",
	"spec.declarative.deployment.volumes": "mounts Secrets, host paths, tokens or claims into the agent's pod (mounts data)",
	"spec.declarative.deployment.volumeMounts": "mounts volumes into the agent's container (mounts data)",
	"spec.declarative.deployment.env": "sets environment variables, which can read Secrets (valueFrom) or send the model client elsewhere (OPENAI_BASE_URL and the like)",
	"spec.declarative.deployment.envFrom": "loads whole Secrets or ConfigMaps into the agent's environment (reads data)",
	"spec.declarative.deployment.imagePullSecrets": "uses the namespace's registry credentials",
	"spec.declarative.deployment.serviceAccountName": "runs the agent as another ServiceAccount (changes identity)",
	"spec.declarative.deployment.serviceAccountConfig": "annotates the agent's ServiceAccount, e.g. for cloud IAM (changes identity)",
	"spec.declarative.deployment.securityContext": "changes the agent container's privileges",
	"spec.declarative.deployment.podSecurityContext": "changes the agent pod's privileges",
	"spec.declarative.deployment.tolerations": "lets the agent's pod onto tainted nodes (control plane, dedicated nodes)",
	"spec.declarative.deployment.labels": "labels the agent's pods, which can select them into other NetworkPolicies or a mesh (changes reach)",
	"spec.declarative.deployment.annotations": "annotates the agent's pods, which drives injectors (sidecars, secret injection)",
	"spec.declarative.deployment.deploymentAnnotations": "annotates the agent's Deployment, which drives controllers and injectors",
	"spec.declarative.tools[].headersFrom": "has kagent read Secrets or ConfigMaps into the tool's request headers (reads data)",
	"spec.declarative.tools[].mcpServer.allowedHeaders": "forwards headers of the caller's request, such as credentials, to the tool server",
}

agent_field_message(field, key) := m if {
	m := sprintf("%s is set, which %s; a directly created Agent may set only the fields in kagent.agentFields. Remove it, or run the agent through an AgentConfig and an AgentRun", [field, agent_field_reasons[key]])
} else := m if {
	m := sprintf("%s is set, which is not one of the fields a directly created Agent may set (kagent.agentFields); remove it, or ask the platform team to add %s to kagent.agentFields", [field, key])
} else := "a field is set that a directly created Agent may not set (kagent.agentFields); remove it"
