#!/usr/bin/env bash
# Benchmark (not a test) of plan and apply at cluster scale, against obshell-sim answering every
# obshell request after 20 ms: 2, 10, 100 and 1000 user tenants; the official Python SDK reading
# the same data one request after another as the baseline; the default max_parallel_requests;
# how long after a DAG's end apply returns (1 s, 10 s, 60 s DAGs) beside the SDK's
# wait_dag_succeed. Writes docs/benchmarks.md and its plots (docs/benchmarks/); the measuring is
# in scripts/bench_scale.py.
#
# Usage: scripts/bench-scale.sh [--quick] [--sizes 2,10,100,1000] [--dags 1,10,60]
#        (runs on a machine set up by `make test`/`make tools`;
#                                            builds the release binaries; about 15 minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo build --release --quiet --workspace --bins
scripts/setup-tools.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements-bench.txt
exec .venv/bin/python scripts/bench_scale.py "$@"
