# OPA's own admission-controller setup for the benchmark: `system.main`
# answers the AdmissionReview, from the same default-bundle Rego the gateway
# runs as wasm. Context is looked up by request uid from data the benchmark
# loads (the gateway resolves the same objects from its cache).
package system

import rego.v1

policy_input := {"request": input.request, "context": data.bench.contexts[input.request.uid]}

findings := [v | some v in data.agentgate.violations with input as policy_input]

lines := sort([line |
	some v in findings
	v.action == "deny"
	line := sprintf("[%s] %s: %s", [v.policy, v.field, v.message])
])

main := {
	"apiVersion": "admission.k8s.io/v1",
	"kind": "AdmissionReview",
	"response": response,
}

response := {"uid": input.request.uid, "allowed": true} if count(lines) == 0

response := {
	"uid": input.request.uid,
	"allowed": false,
	"status": {"code": 403, "reason": "Forbidden", "message": concat("\n", lines)},
} if count(lines) > 0
