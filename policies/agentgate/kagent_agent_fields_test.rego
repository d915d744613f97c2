package agentgate_test

import rego.v1

import data.agentgate

plain_agent := {"metadata": {"name": "a"}, "spec": {
	"type": "Declarative",
	"description": "writes tests",
	"declarative": {
		"modelConfig": "claude",
		"systemMessage": "You write tests.",
		"runtime": "go",
		"stream": true,
		"a2aConfig": {"skills": [{"id": "t", "name": "tests"}]},
		"tools": [{"type": "McpServer", "mcpServer": {"apiGroup": "kagent.dev", "kind": "RemoteMCPServer", "name": "kagent-tool-server", "namespace": "kagent", "toolNames": ["k8s_get_pods"]}}],
		"deployment": {"replicas": 1, "resources": {"limits": {"cpu": "1"}}, "nodeSelector": {"pool": "agents"}},
	},
}}

field_findings(agent) := {v.field: v.message | some v in agentgate.violations with input as with_ctx(req("Agent", "kagent.dev", agent), {"modelConfig": model_claude, "toolServers": tool_servers_ctx}); v.policy == "kagent-agent-fields"}

with_field(path, value) := json.patch(plain_agent, [{"op": "add", "path": path, "value": value}])

test_agent_fields_plain_agent_admitted if {
	field_findings(plain_agent) == {}
	count(ids(with_ctx(req("Agent", "kagent.dev", plain_agent), {"modelConfig": model_claude, "toolServers": tool_servers_ctx}))) == 0
}

test_agent_fields_refused_with_their_reason if {
	cases := [
		["/spec/declarative/deployment/extraContainers", [{"name": "x", "image": "evil"}], "spec.declarative.deployment.extraContainers", "runs other code"],
		["/spec/declarative/deployment/imageRegistry", "evil.example.com", "spec.declarative.deployment.imageRegistry", "runs other code"],
		["/spec/declarative/deployment/serviceAccountName", "admin", "spec.declarative.deployment.serviceAccountName", "changes identity"],
		["/spec/declarative/deployment/serviceAccountConfig", {"annotations": {"eks.amazonaws.com/role-arn": "x"}}, "spec.declarative.deployment.serviceAccountConfig", "changes identity"],
		["/spec/declarative/deployment/volumes", [{"name": "s", "secret": {"secretName": "db"}}], "spec.declarative.deployment.volumes", "mounts data"],
		["/spec/declarative/deployment/volumeMounts", [{"name": "s", "mountPath": "/s"}], "spec.declarative.deployment.volumeMounts", "mounts data"],
		["/spec/declarative/deployment/env", [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}], "spec.declarative.deployment.env", "can read Secrets"],
		["/spec/declarative/deployment/env", [{"name": "OPENAI_BASE_URL", "value": "http://10.0.0.1"}], "spec.declarative.deployment.env", "send the model client elsewhere"],
		["/spec/declarative/deployment/envFrom", [{"secretRef": {"name": "db"}}], "spec.declarative.deployment.envFrom", "reads data"],
		["/spec/declarative/deployment/securityContext", {"privileged": true}, "spec.declarative.deployment.securityContext", "privileges"],
		["/spec/declarative/deployment/podSecurityContext", {"runAsUser": 0}, "spec.declarative.deployment.podSecurityContext", "privileges"],
		["/spec/declarative/deployment/tolerations", [{"operator": "Exists"}], "spec.declarative.deployment.tolerations", "tainted nodes"],
		["/spec/declarative/deployment/labels", {"role": "egress"}, "spec.declarative.deployment.labels", "changes reach"],
		["/spec/declarative/deployment/annotations", {"vault.hashicorp.com/agent-inject": "true"}, "spec.declarative.deployment.annotations", "injectors"],
		["/spec/declarative/deployment/imagePullSecrets", [{"name": "regcred"}], "spec.declarative.deployment.imagePullSecrets", "registry credentials"],
		["/spec/declarative/executeCodeBlocks", true, "spec.declarative.executeCodeBlocks", "runs other code"],
		["/spec/declarative/systemMessageFrom", {"type": "Secret", "name": "p", "key": "k"}, "spec.declarative.systemMessageFrom", "reads data"],
		["/spec/declarative/promptTemplate", {"dataSources": [{"kind": "ConfigMap", "name": "c"}]}, "spec.declarative.promptTemplate", "reads data"],
		["/spec/declarative/memory", {"modelConfig": "other"}, "spec.declarative.memory", "model-allowlist does not check"],
		["/spec/declarative/context", {"compaction": {"summarizer": {"modelConfig": "other"}}}, "spec.declarative.context", "model-allowlist does not check"],
		["/spec/declarative/shareTools", true, "spec.declarative.shareTools", "share links"],
		["/spec/skills", {"refs": ["ghcr.io/x/skills:1"]}, "spec.skills", "runs other code"],
		["/spec/sandbox", {"network": {"allowedDomains": ["*"]}}, "spec.sandbox", "changes reach"],
		["/spec/allowedNamespaces", {"from": "All"}, "spec.allowedNamespaces", "widens who can use it"],
		["/spec/declarative/tools/0/headersFrom", [{"name": "Authorization", "valueFrom": {"type": "Secret", "name": "t", "key": "k"}}], "spec.declarative.tools[0].headersFrom", "reads data"],
		["/spec/declarative/tools/0/mcpServer/allowedHeaders", ["Authorization"], "spec.declarative.tools[0].mcpServer.allowedHeaders", "credentials"],
	]
	every c in cases {
		fs := field_findings(with_field(c[0], c[1]))
		count(fs) == 1
		contains(fs[c[2]], c[3])
		endswith(fs[c[2]], "a directly created Agent may set only the fields in kagent.agentFields. Remove it, or run the agent through an AgentConfig and an AgentRun")
	}
}

test_agent_fields_exact_message if {
	fs := field_findings(with_field("/spec/declarative/deployment/serviceAccountName", "admin"))
	fs == {"spec.declarative.deployment.serviceAccountName": "spec.declarative.deployment.serviceAccountName is set, which runs the agent as another ServiceAccount (changes identity); a directly created Agent may set only the fields in kagent.agentFields. Remove it, or run the agent through an AgentConfig and an AgentRun"}
}

test_agent_fields_unknown_fields_refused if {
	fs := field_findings(with_field("/spec/declarative/deployment/initContainers", [{"name": "x", "image": "evil"}]))
	fs == {"spec.declarative.deployment.initContainers": "spec.declarative.deployment.initContainers is set, which is not one of the fields a directly created Agent may set (kagent.agentFields); remove it, or ask the platform team to add spec.declarative.deployment.initContainers to kagent.agentFields"}
	field_findings(with_field("/spec/declarative/deployment/image", "evil:1")) == {"spec.declarative.deployment.image": "spec.declarative.deployment.image is set, which is not one of the fields a directly created Agent may set (kagent.agentFields); remove it, or ask the platform team to add spec.declarative.deployment.image to kagent.agentFields"}

	# a list item's path in the advice is the pattern, in the field the index
	fs2 := field_findings(json.patch(plain_agent, [{"op": "add", "path": "/spec/declarative/tools/-", "value": {"type": "McpServer", "mcpServer": {"name": "x", "kind": "RemoteMCPServer", "namespace": "qe", "toolNames": ["a"], "weird": 1}}}]))
	contains(fs2["spec.declarative.tools[1].mcpServer.weird"], "add spec.declarative.tools[].mcpServer.weird to kagent.agentFields")
}

test_agent_fields_one_finding_per_topmost_field if {
	fs := field_findings(with_field("/spec/declarative/deployment/extraContainers", [{"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}, {"name": "b", "image": "y"}]))
	object.keys(fs) == {"spec.declarative.deployment.extraContainers"}
}

test_agent_fields_empty_values_are_unset if {
	field_findings(with_field("/spec/declarative/executeCodeBlocks", false)) == {}
	field_findings(with_field("/spec/declarative/deployment/env", [])) == {}
	field_findings(with_field("/spec/declarative/deployment/securityContext", {})) == {}
	field_findings(with_field("/spec/declarative/memory", null)) == {}
}

# A scalar where allowed fields lie below is refused as it stands.
test_agent_fields_scalar_on_the_way_refused if {
	fs := field_findings(json.patch(plain_agent, [{"op": "replace", "path": "/spec/declarative/deployment", "value": "privileged"}]))
	object.keys(fs) == {"spec.declarative.deployment"}
	fs2 := field_findings(json.patch(plain_agent, [{"op": "replace", "path": "/spec/declarative/tools", "value": "all"}]))
	object.keys(fs2) == {"spec.declarative.tools"}
}

test_agent_fields_byo_is_kagent_byo_s if {
	byo := {"metadata": {"name": "b"}, "spec": {"type": "BYO", "byo": {"deployment": {"image": "evil", "serviceAccountName": "admin"}}}}
	field_findings(byo) == {}
	"kagent-byo" in ids(req("Agent", "kagent.dev", byo))
}

test_agent_fields_platform_extends_the_list if {
	fields := array.concat(data.agentgate.config.kagent.agentFields, ["spec.declarative.deployment.labels"])
	field_findings(with_field("/spec/declarative/deployment/labels", {"team": "qe"})) == {} with data.agentgate.config.kagent.agentFields as fields
}

test_agent_fields_not_for_other_kinds if {
	not "kagent-agent-fields" in ids(cfg_input({}))
	not "kagent-agent-fields" in ids(req("ModelConfig", "kagent.dev", {"spec": {"provider": "Anthropic", "model": "claude-3", "weird": 1}}))
}

# item 8: the allowlist missing or of the wrong type refuses every field set, with a message
test_agent_fields_broken_config_still_denies if {
	every fields in [null, "spec.type", [5], {"spec.type": true}] {
		fs := field_findings(plain_agent) with data.agentgate.config.kagent.agentFields as fields
		object.keys(fs) == {"spec.type", "spec.description", "spec.declarative"}
		fs["spec.type"] == "spec.type is set, which is not one of the fields a directly created Agent may set (kagent.agentFields); remove it, or ask the platform team to add spec.type to kagent.agentFields"
	}
	count(field_findings(plain_agent)) == 3 with data.agentgate.config.kagent as null
}
