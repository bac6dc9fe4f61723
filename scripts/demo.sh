#!/usr/bin/env bash
# The README's main job: start obshell-sim, `terraform apply` examples/demo against it with the
# provider built here, show that a second plan has no changes, then stop the simulator.
# Uses `terraform` from PATH when there is one, else the pinned one from scripts/setup-tools.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

provider_dir="$root/target/release"
for bin in terraform-provider-oceanbase obshell-sim; do
  [ -x "$provider_dir/$bin" ] || { echo "demo: $provider_dir/$bin is missing: run 'make demo'" >&2; exit 1; }
done
terraform=$(command -v terraform || true)
[ -n "$terraform" ] || terraform="$root/.tools/bin/terraform"

work=$(mktemp -d)
sim_log="$work/obshell-sim.log"
cleanup() {
  [ -n "${sim_pid:-}" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

password="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
coproc SIM { exec "$provider_dir/obshell-sim" --listen 127.0.0.1:0 --password "$password" 2>"$sim_log"; }
sim_pid=$SIM_PID
read -r -t 30 first_line <&"${SIM[0]}" || { echo "demo: obshell-sim did not start:" >&2; cat "$sim_log" >&2; exit 1; }
endpoint=${first_line#obshell-sim listening on }
echo "==> obshell-sim (pid $sim_pid) serves $endpoint"

cp examples/demo/main.tf "$work/"
cat > "$work/dev.tfrc" <<TFRC
provider_installation {
  dev_overrides {
    "oceanbase/oceanbase" = "$provider_dir"
  }
  direct {}
}
TFRC
export TF_CLI_CONFIG_FILE="$work/dev.tfrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export OCEANBASE_ENDPOINT="$endpoint" OCEANBASE_PASSWORD="$password"

echo "==> $("$terraform" version | head -1) ($terraform)"
echo "==> terraform apply"
"$terraform" -chdir="$work" apply -auto-approve -input=false -no-color
echo "==> terraform plan -detailed-exitcode (expect: no changes)"
set +e
"$terraform" -chdir="$work" plan -detailed-exitcode -input=false -no-color
rc=$?
set -e
case $rc in
  0) echo "==> the second plan is empty: the cluster matches the configuration" ;;
  2) echo "demo: the second plan has changes" >&2; exit 1 ;;
  *) echo "demo: terraform plan failed ($rc)" >&2; exit 1 ;;
esac
