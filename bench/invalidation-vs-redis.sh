#!/usr/bin/env bash
# Pattern invalidation of a million keys, strata vs a Redis subscriber's KEYS/SCAN + DEL loop: PING latency
# of another client while the keys go; see bench/invalidation_vs_redis.py for what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/invalidation_vs_redis.py "$@"
