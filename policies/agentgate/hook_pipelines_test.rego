package agentgate_test

import rego.v1

import data.agentgate

hook_findings(spec, hooks_cfg) := [v | some v in agentgate.violations with input as cfg_input(spec) with data.agentgate.config.hooks as hooks_cfg; v.policy == "hook-pipeline"]

test_listed_pipelines_and_globs_allowed if {
	hook_findings({"preHooks": [{"pipelineRef": {"name": "scan-prompt"}}], "postHooks": [{"pipelineRef": {"name": "publish-tests"}}]}, {"allowedPipelines": ["scan-prompt", "publish-*"]}) == []
}

test_pipeline_not_listed_denied_naming_what_is if {
	vs := hook_findings({"postHooks": [{"pipelineRef": {"name": "publish-tests"}}, {"pipelineRef": {"name": "deploy-prod"}}]}, {"allowedPipelines": ["scan-prompt", "publish-*"]})
	count(vs) == 1
	vs[0].field == "spec.postHooks[1].pipelineRef.name"
	vs[0].message == `Pipeline "deploy-prod" may not run as a hook; allowed: publish-*, scan-prompt. Name one of those, or ask the platform team to add it to hooks.allowedPipelines`
}

test_no_list_no_hook if {
	vs := hook_findings({"preHooks": [{"pipelineRef": {"name": "checkout"}}]}, {"allowedPipelines": []})
	[v.message | some v in vs] == [`Pipeline "checkout" may not run as a hook; allowed: none. Name one of those, or ask the platform team to add it to hooks.allowedPipelines`]
}

test_shipped_config_allows_any_pipeline if {
	[v | some v in agentgate.violations with input as cfg_input({"preHooks": [{"pipelineRef": {"name": "checkout"}}]}); v.policy == "hook-pipeline"] == []
}

test_hook_account_listed_allowed if {
	hook_findings({"postHooks": [{"pipelineRef": {"name": "publish-tests"}, "serviceAccountName": "publisher"}]}, {"allowedPipelines": ["*"], "allowedServiceAccounts": ["publisher"]}) == []
}

test_hook_account_not_listed_or_agentgates_denied if {
	vs := hook_findings({"preHooks": [{"pipelineRef": {"name": "scan"}, "serviceAccountName": "deployer"}], "postHooks": [{"pipelineRef": {"name": "publish"}, "serviceAccountName": "agentgate-run-other"}]}, {"allowedPipelines": ["*"], "allowedServiceAccounts": ["*"]})
	[v.field | some v in vs] == ["spec.postHooks[0].serviceAccountName"]
	vs2 := hook_findings({"preHooks": [{"pipelineRef": {"name": "scan"}, "serviceAccountName": "deployer"}]}, {"allowedPipelines": ["*"], "allowedServiceAccounts": []})
	[v.message | some v in vs2] == [`a hook may not run as ServiceAccount "deployer"; allowed: none (agentgate's own accounts never). Leave serviceAccountName out to run it as the account agentgate makes for the run, which holds no rights`]
}
