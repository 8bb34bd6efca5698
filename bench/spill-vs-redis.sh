#!/usr/bin/env bash
# The spill tier against forgetting: a working set 4x maxmemory read back on strata with
# spill-dir, strata without, redis-server, and strata with everything in memory; see
# bench/spill_vs_redis.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/spill_vs_redis.py "$@"
