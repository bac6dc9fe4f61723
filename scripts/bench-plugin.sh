#!/usr/bin/env bash
# Benchmark (not a test) of the plugin binary's startup, against the targets of design.md §7:
#   - median time from exec to the go-plugin handshake line on stdout, with AutoMTLS as Terraform
#     always uses it (PLUGIN_CLIENT_CERT set to a P-521 certificate, like go-plugin's client):
#     target <= 4 ms;
#   - resident memory (VmRSS) at the moment the handshake line is read: target <= 8 MiB;
#   - release binary size: target <= 10 MiB.
# Each run is ended with SIGTERM after the measurement, as Terraform would end it with Shutdown.
#
# Usage: scripts/bench-plugin.sh [RUNS]   (default 50; builds the release binary first)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${1:-50}

cargo build --release --quiet --bin terraform-provider-oceanbase
binary="$root/target/release/terraform-provider-oceanbase"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# go-plugin's client makes an ECDSA P-521 certificate for each plugin it starts; so do we.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-521 -nodes \
  -keyout "$work/client.key" -out "$work/client.pem" -days 1 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null

python3 - "$binary" "$work/client.pem" "$runs" <<'PY'
import os, signal, statistics, subprocess, sys, time

binary, cert_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(os.environ)
env.update({
    "TF_PLUGIN_MAGIC_COOKIE": "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
    "PLUGIN_PROTOCOL_VERSIONS": "5,6",
    "PLUGIN_MIN_PORT": "10000",
    "PLUGIN_MAX_PORT": "25000",
    "PLUGIN_CLIENT_CERT": open(cert_path).read(),
})
for name in ("TF_LOG", "TF_LOG_PROVIDER"):
    env.pop(name, None)

def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")

times_ms, rss_kib = [], []
for _ in range(runs + 1):  # the first run warms the page cache and is discarded
    start = time.perf_counter_ns()
    child = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = child.stdout.readline()
    elapsed = (time.perf_counter_ns() - start) / 1e6
    rss = vm_rss_kib(child.pid)
    if not line.startswith(b"1|6|unix|/"):
        raise SystemExit(f"unexpected handshake line {line!r}")
    child.send_signal(signal.SIGTERM)
    if child.wait(timeout=10) != 0:
        raise SystemExit(f"plugin exited with {child.returncode}")
    times_ms.append(elapsed)
    rss_kib.append(rss)
times_ms, rss_kib = times_ms[1:], rss_kib[1:]

size_mib = os.path.getsize(binary) / 1048576
median_ms = statistics.median(times_ms)
median_rss_mib = statistics.median(rss_kib) / 1024
max_rss_mib = max(rss_kib) / 1024

def verdict(ok):
    return "ok" if ok else "MISSED"

print(f"runs: {runs} (AutoMTLS, exec via Python's subprocess, which the time includes)")
print(f"exec to handshake line: median {median_ms:.2f} ms "
      f"(min {min(times_ms):.2f}, p90 {sorted(times_ms)[int(len(times_ms) * 0.9) - 1]:.2f}); "
      f"target <= 4 ms: {verdict(median_ms <= 4)}")
print(f"VmRSS at handshake: median {median_rss_mib:.2f} MiB (max {max_rss_mib:.2f}); "
      f"target <= 8 MiB: {verdict(max_rss_mib <= 8)}")
print(f"release binary size: {size_mib:.2f} MiB; target <= 10 MiB: {verdict(size_mib <= 10)}")
PY
