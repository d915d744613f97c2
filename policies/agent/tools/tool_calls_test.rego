package agent.tools_test

import rego.v1

import data.agent.tools

etc_rule := {"deniedArguments": [{"tools": ["write_*"], "argument": "path", "pattern": "^/etc/", "reason": "system files are not the agent's"}]}

call(tool, args) := {"run": {"namespace": "ci", "name": "r1"}, "tool": tool, "arguments": args, "calls": []}

test_argument_matching_a_rule_is_denied if {
	reasons := tools.deny with input as call("write_file", {"path": "/etc/passwd"})
		with data.agentgate.config.tools.calls as etc_rule
	reasons == {`argument "path" = "/etc/passwd" matches "^/etc/": system files are not the agent's`}
}

test_argument_outside_the_pattern_passes if {
	count(tools.deny) == 0 with input as call("write_file", {"path": "tests/test_parser.py"})
		with data.agentgate.config.tools.calls as etc_rule
}

test_other_tool_is_not_judged_by_the_rule if {
	count(tools.deny) == 0 with input as call("read_file", {"path": "/etc/passwd"})
		with data.agentgate.config.tools.calls as etc_rule
}

test_non_string_argument_is_not_matched if {
	count(tools.deny) == 0 with input as call("write_file", {"path": ["/etc/passwd"]})
		with data.agentgate.config.tools.calls as etc_rule
}

test_default_config_denies_nothing if {
	count(tools.deny) == 0 with input as call("write_file", {"path": "/etc/passwd"})
}
