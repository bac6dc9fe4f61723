#!/usr/bin/env bash
# Benchmark (not a test) of one `terraform apply` that creates oceanbase_backup_config on a
# two-tenant obshell-sim, against the targets of design.md §7:
#   - the HTTP requests the provider sends for the whole apply (its plan included), by endpoint,
#     from the simulator's request log: none should repeat without need;
#   - the provider's peak resident memory (ru_maxrss) over every plugin process Terraform starts
#     for that apply: target <= 16 MiB.
# Terraform runs the provider through a small wrapper that records each process's peak memory.
#
# Usage: scripts/bench-apply.sh   (builds the release binaries; uses PATH's terraform, else the
#                                  pinned one from scripts/setup-tools.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cargo build --release --quiet --workspace --bins
scripts/setup-tools.sh
terraform=$(command -v terraform || true)
[ -n "$terraform" ] || terraform="$root/.tools/bin/terraform"

work=$(mktemp -d)
cleanup() {
  [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The wrapper Terraform starts instead of the provider: it runs the real binary with the same
# stdio and environment, then appends the child's peak resident memory (KiB) to a file.
mkdir -p "$work/plugins"
cat > "$work/plugins/terraform-provider-oceanbase" <<WRAP
#!$root/.venv/bin/python
import resource, signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Terraform stops plugins by RPC, as with the real one
code = subprocess.call(["$root/target/release/terraform-provider-oceanbase", *sys.argv[1:]])
with open("$work/maxrss", "a") as out:
    out.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
sys.exit(code)
WRAP
chmod +x "$work/plugins/terraform-provider-oceanbase"

password=bench-password
coproc SIM { exec "$root/target/release/obshell-sim" --listen 127.0.0.1:0 --password "$password" --task-duration 200ms 2>/dev/null; }
sim_pid=$SIM_PID
read -r -t 30 first_line <&"${SIM[0]}"
endpoint=${first_line#obshell-sim listening on }

cp examples/demo/main.tf "$work/"
cat > "$work/dev.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "oceanbase/oceanbase" = "$work/plugins"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$work/dev.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export OCEANBASE_ENDPOINT="$endpoint" OCEANBASE_PASSWORD="$password"

curl -fsS -X DELETE "$endpoint/sim/v1/requests" >/dev/null
start=$(date +%s.%N)
"$terraform" -chdir="$work" apply -auto-approve -input=false -no-color >/dev/null
end=$(date +%s.%N)
curl -fsS "$endpoint/sim/v1/requests" > "$work/requests.json"
[ -n "${BENCH_KEEP_LOG:-}" ] && cp "$work/requests.json" "$BENCH_KEEP_LOG"

echo "== one create on a 2-tenant cluster ($("$terraform" version | head -1), DAG nodes of 200 ms)"
printf 'wall time of terraform apply (plan included): %.2f s\n' "$(echo "$end - $start" | bc)"
"$root/.venv/bin/python" - "$work/requests.json" "$work/maxrss" <<'PY'
import collections, json, re, sys

log = json.load(open(sys.argv[1]))
entries = log if isinstance(log, list) else log.get("requests", [])
by_endpoint = collections.Counter()
for entry in entries:
    path = entry["uri"].split("?")[0]
    path = re.sub(r"/tenant/[^/]+", "/tenant/{t}", path)
    path = re.sub(r"/task/dag/\d+", "/task/dag/{id}", path)
    by_endpoint[f'{entry["method"]} {path}'] += 1
print(f"HTTP requests: {len(entries)}")
for endpoint, count in sorted(by_endpoint.items(), key=lambda item: (-item[1], item[0])):
    print(f"  {count:3d}  {endpoint}")
peaks = [int(line) for line in open(sys.argv[2]) if line.strip()]
print(f"provider processes: {len(peaks)}; peak resident memory: "
      f"{max(peaks) / 1024:.1f} MiB (target <= 16 MiB)")
PY
