#!/usr/bin/env bash
# Transactions and scripts, strata vs Debian's redis-server; see bench/scripting_vs_redis.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/scripting_vs_redis.py "$@"
