# TEP-0164's Gate 1 example rule, in the TEP's own (Rego v0) style: its
# text mixes v0 rule heads with the `in` keyword, which v0 accepts only with
# this import. Build with `agentgate bundle build --v0-compatible`.
package agent.goals

import future.keywords.in

default allow = false

allow {
    input.namespace in data.allowed_namespaces
}

deny[msg] {
    some tool in input.requested_tools
    tool in data.write_tools
    not tool in input.require_approval
    msg := sprintf("write tool %s must have requireApproval set", [tool])
}
