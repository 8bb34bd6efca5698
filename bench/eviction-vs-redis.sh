#!/usr/bin/env bash
# Eviction under maxmemory, strata vs Debian's redis-server; see bench/eviction_vs_redis.py for what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/eviction_vs_redis.py "$@"
