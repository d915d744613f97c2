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
