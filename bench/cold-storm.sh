#!/usr/bin/env bash
# Cold-miss storm: strata's loaders vs the client-side cache-aside loop against Debian's
# redis-server, on SQLite and PostgreSQL; see bench/cold_storm.py for what it runs and prints.
#   bench/cold-storm.sh [--build DIR] [--requests N] [--rounds N] [--sources sqlite,postgresql] ...
# STRATA_BUILD (or --build) names the build directory (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/cold_storm.py "$@"
