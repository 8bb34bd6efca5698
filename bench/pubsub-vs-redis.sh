#!/usr/bin/env bash
# Pub/sub, strata vs Debian's redis-server: PUBLISH throughput and delivery latency with 1, 10 and
# 100 subscribers; see bench/pubsub_vs_redis.py for what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/pubsub_vs_redis.py "$@"
