#!/usr/bin/env bash
# strata vs Debian's redis-server on the same load; see bench/vs_redis.py for what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/vs_redis.py "$@"
