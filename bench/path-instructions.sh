#!/usr/bin/env bash
# Instructions per request on strata's command path under callgrind (SET/GET, GET with and without
# CLIENT TRACKING), for one or more builds side by side; see bench/path_instructions.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/path_instructions.py "$@"
