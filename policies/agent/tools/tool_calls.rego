# Run time: reasons to refuse one tool call the run-time gateway is about
# to forward (docs/run-time-gateway.md). The input is the run (namespace,
# name, config, stamped guardrails), the tool server, the tool, its
# arguments, and the run's latest calls. A tool outside the run's
# allowlist never gets here: the gateway refuses it first.
package agent.tools

import rego.v1

calls_cfg := object.get(object.get(data.agentgate.config, "tools", {}), "calls", {})

# A platform team's argument rule, from policy config:
#   {"tools": ["write_file"], "argument": "path", "pattern": "^/etc/", "reason": "system files are not the agent's"}
deny contains msg if {
	some rule in object.get(calls_cfg, "deniedArguments", [])
	some g in rule.tools
	glob.match(g, [], input.tool)
	value := object.get(input.arguments, rule.argument, null)
	is_string(value)
	regex.match(rule.pattern, value)
	msg := sprintf("argument %q = %q matches %q%s", [rule.argument, value, rule.pattern, reason_suffix(rule)])
}

reason_suffix(rule) := sprintf(": %s", [rule.reason]) if {
	is_string(rule.reason)
	rule.reason != ""
} else := ""
