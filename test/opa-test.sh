#!/usr/bin/env bash
# Rego unit tests of the default bundle, with the opa built by tools/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OPA="${AGENTGATE_OPA:-.tools/bin/opa}"
[[ -x "$OPA" ]] || { echo "opa not found at $OPA: run tools/install.sh" >&2; exit 2; }
"$OPA" check --ignore "*.tar.gz" policies/
"$OPA" test --ignore "*.tar.gz" policies/ --explain fails
# TEP-0164's Gate 1 example rule, in Rego v1 and in the TEP's own v0 style.
"$OPA" test examples/tep-gate1/v1 --explain fails
"$OPA" test --v0-compatible examples/tep-gate1/v0 --explain fails
# The README's "Write your first rule".
"$OPA" test examples/first-rule --explain fails
