#!/usr/bin/env bash
# Rego unit tests of the default bundle, with the opa built by tools/install.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OPA="${AGENTGATE_OPA:-.tools/bin/opa}"
[[ -x "$OPA" ]] || { echo "opa not found at $OPA: run tools/install.sh" >&2; exit 2; }
"$OPA" check --ignore "*.tar.gz" policies/
"$OPA" test --ignore "*.tar.gz" policies/ --explain fails
