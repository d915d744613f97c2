# hook-pipeline: the Pipelines an AgentConfig's pre- and post-hooks may run
# (hooks.allowedPipelines, names or globs, per profile too). A hook runs in
# the run's namespace as a PipelineRun agentgate makes and stamps, before the
# agent acts or on its results, so which Pipelines may be hooks is the
# platform's call. Without the list, none may.
package agentgate

import rego.v1

allowed_pipelines := s if {
	s := str_list(list_or_empty(object.get(object.get(cfg, "hooks", {}), "allowedPipelines", [])))
	s != ""
} else := "none"

pipeline_allowed(name) if {
	some g in list_or_empty(object.get(object.get(cfg, "hooks", {}), "allowedPipelines", []))
	matches(g, name)
}

violations contains finding("hook-pipeline", concat(".", [indexed(concat(".", ["spec", k]), i), "pipelineRef.name"]), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some k in ["preHooks", "postHooks"]
	some i, h in list_or_empty(get(spec, k, []))
	name := get(get(h, "pipelineRef", {}), "name", "")
	not pipeline_allowed(name)
	msg := sprintf("Pipeline %s may not run as a hook; allowed: %s. Name one of those, or ask the platform team to add it to hooks.allowedPipelines", [json.marshal(name), allowed_pipelines])
}

# The ServiceAccount a hook names runs its PipelineRun, with whatever that
# account may do: one of hooks.allowedServiceAccounts (names or globs; none
# as shipped, so a hook runs as the no-rights account made for its run), and
# never one of agentgate's (a run's identity, another run's hook account).
service_account_allowed(sa) if {
	not startswith(sa, "agentgate-")
	some g in list_or_empty(object.get(object.get(cfg, "hooks", {}), "allowedServiceAccounts", []))
	matches(g, sa)
}

allowed_hook_accounts := s if {
	s := str_list(list_or_empty(object.get(object.get(cfg, "hooks", {}), "allowedServiceAccounts", [])))
	s != ""
} else := "none"

violations contains finding("hook-pipeline", concat(".", [indexed(concat(".", ["spec", k]), i), "serviceAccountName"]), msg) if {
	is_kind("AgentConfig", "agent.tekton.dev")
	some k in ["preHooks", "postHooks"]
	some i, h in list_or_empty(get(spec, k, []))
	sa := get(h, "serviceAccountName", null)
	is_string(sa)
	not service_account_allowed(sa)
	msg := sprintf("a hook may not run as ServiceAccount %s; allowed: %s (agentgate's own accounts never). Leave serviceAccountName out to run it as the account agentgate makes for the run, which holds no rights", [json.marshal(sa), allowed_hook_accounts])
}
