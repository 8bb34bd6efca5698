#!/usr/bin/env bash
# CLIENT TRACKING cost, strata vs Debian's redis-server: server CPU per GET-heavy request with 50
# tracking clients against without; see bench/tracking_cost.py for what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/tracking_cost.py "$@"
