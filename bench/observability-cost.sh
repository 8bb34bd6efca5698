#!/usr/bin/env bash
# What observability costs on the command path; see bench/observability_cost.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/observability_cost.py "$@"
