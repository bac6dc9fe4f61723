#!/usr/bin/env bash
# Mutation testing (make mutants): cargo-mutants, pinned and installed into .tools/, over the
# modules that decide what is sent to obshell and what the state says, in two passes:
#
#   1. unit pass: every mutant against the unit tests of the package it is in (a mutant needs only
#      that package's lib test binary rebuilt: about 6 s here);
#   2. integration pass (`--iterate`): only the mutants the unit pass did not catch, against the
#      client, resource and sim tests of tests/it/ and the simulator's own tests (not the
#      real-Terraform acceptance, gRPC, docs or install tests, nor the two chaos runs, which take
#      30 s each and only repeat what the targeted tests check). The unit tests, which already
#      missed these mutants, are not run again: that saves building the crate's test binary.
#
#   scripts/mutants.sh                                every listed module
#   scripts/mutants.sh --file src/obshell/dag.rs      one file (any cargo-mutants option works)
#   scripts/mutants.sh --in-diff my.diff              only the lines a diff changes
#   scripts/mutants.sh --list                         list the mutants, test nothing
#   scripts/mutants.sh --resume [--file ...]          an interrupted run: keep what was decided,
#                                                     run pass 2 on the rest (same selection)
#
# Results: target/mutants.out/ (outcomes.json, caught.txt, missed.txt, timeout.txt, unviable.txt,
# previously_caught.txt with what the unit pass caught, one log per mutant).
#
# Mutants are built with the `mutants` profile (no debug info), in place, in scratch copies of the
# tracked and unignored files: target/mutants-tree/<k>/ for each of MUTANTS_JOBS (default 2) shards,
# each with its own target/ that stays compiled between runs. (cargo-mutants' own parallel jobs copy
# target/ without its timestamps, so every copy would rebuild every dependency first.) This
# checkout's target/debug is neither copied nor locked. The shards' own results are in
# target/mutants-shards/<k>/mutants.out/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=27.1.0
bin=$root/.tools/bin/cargo-mutants
if [ ! -x "$bin" ] || [ "$("$bin" mutants --version 2>/dev/null)" != "cargo-mutants $version" ]; then
  echo "mutants: installing cargo-mutants $version into .tools/" >&2
  cargo install --locked --quiet --version "$version" --root .tools cargo-mutants
fi

files=(
  src/resources/backup_config/plan.rs
  src/resources/backup_config/ops.rs
  src/resources/backup_config/private.rs
  src/resources/backup_config/read.rs
  src/obshell/dag.rs
  src/obshell/client.rs
  src/obshell/auth.rs
  obshell-sim/src/backup_param.rs
  obshell-sim/src/dag.rs
)
selection=()
listing=false
resume=false
args=()
for arg in "$@"; do
  case "$arg" in
    --file | -f | --file=* | --in-diff | --in-diff=*) selection=(none) ;;
    --list) listing=true ;;
    --resume) resume=true && continue ;;
  esac
  args+=("$arg")
done
set -- ${args[@]+"${args[@]}"}
if [ "${selection[*]-}" = none ]; then
  selection=()
else
  for file in "${files[@]}"; do selection+=(--file "$file"); done
fi

jobs=${MUTANTS_JOBS:-2}
common=(mutants --workspace --profile mutants "${selection[@]}")
if $listing; then
  exec "$bin" "${common[@]}" "$@"
fi

# The scratch trees: this checkout's files as they are now (committed or not), nothing else.
# Tree 0 compiles what both passes need (each pass with the package selection it tests with:
# features unify per selection); the others start from a copy of its target/ (cp -a keeps the
# timestamps that make it count as compiled).
sync_tree() {
  local tree=$1
  mkdir -p "$tree"
  find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' path; do
    [ -e "$path" ] && printf '%s\0' "$path"
  done | tar --null -T - -cf - | tar -xf - -C "$tree"
}
unset CARGO_TARGET_DIR
# One run at a time: the shards mutate their trees' sources in place. The lock's descriptor is
# inherited by every cargo-mutants, so it is held until the last of them has ended.
mkdir -p "$root/target"
exec 9>"$root/target/mutants.lock"
flock -n 9 || {
  echo "mutants: another run is still using target/mutants-tree/ (see target/mutants.lock)" >&2
  exit 1
}
trees=$root/target/mutants-tree
sync_tree "$trees/0"
(
  cd "$trees/0"
  cargo test --profile mutants --quiet --no-run -p terraform-provider-oceanbase --lib
  cargo test --profile mutants --quiet --no-run -p obshell-sim --lib
  cargo test --profile mutants --quiet --no-run --workspace --lib --test it
)
for ((k = 1; k < jobs; k++)); do
  sync_tree "$trees/$k"
  [ -d "$trees/$k/target" ] || cp -a "$trees/0/target" "$trees/$k/target"
done

shards=$root/target/mutants-shards
rm -rf "$root/target/mutants.out"
if $resume; then
  [ -d "$shards" ] || { echo "mutants: nothing to resume in $shards" >&2; exit 1; }
else
  rm -rf "$shards"
fi
# The shards of the pass under way. Stopping the script stops them with SIGINT, on which
# cargo-mutants stops its build or test and puts the mutated source back.
pids=()
stop_shards() {
  ((${#pids[@]})) || return 0
  kill -INT "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop_shards; exit 130' INT TERM
# Runs one pass in every shard at once, each shard's results in $shards/<k><suffix>/mutants.out;
# cargo-mutants' exit status 2 (missed) and 3 (timeouts) are results, anything else a failure.
run_pass() {
  local suffix=$1 k status=0
  shift
  pids=()
  for ((k = 0; k < jobs; k++)); do
    # Round-robin: the default slices the list by file, so one shard would get the simulator's
    # files (4 s builds) and another the provider's (12 s builds) and finish an hour later.
    (cd "$trees/$k" && exec "$bin" "${common[@]}" --in-place --shard "$k/$jobs" --sharding round-robin \
      --output "$shards/$k$suffix" "$@") >"$shards/$k$suffix.log" 2>&1 &
    pids+=($!)
  done
  for k in "${!pids[@]}"; do
    wait "${pids[$k]}" || status=$?
    case "$status" in
      0 | 2 | 3) status=0 ;;
      *) echo "mutants: shard $k failed, see $shards/$k$suffix.log" >&2 && stop_shards && exit 1 ;;
    esac
  done
  pids=()
}
mkdir -p "$shards"

# Pass 1: each mutant against the unit tests of its package. (`--cargo-arg` goes to the build as
# well as the test: without it cargo-mutants builds every test target of the package.)
$resume || run_pass "" --test-workspace=false --timeout 60 --cargo-arg=--lib "$@"

# Pass 2 skips (--iterate) what any shard caught or found unviable in pass 1 (and, on --resume, in
# pass 2 so far): every shard gets the union of those lists, so all shards shard the same
# remaining list.
for kind in caught previously_caught unviable; do
  cat "$shards"/*/mutants.out/$kind.txt 2>/dev/null | sort -u >"$shards/$kind.all" || true
done
for ((k = 0; k < jobs; k++)); do
  for dir in "$shards/$k" "$shards/$k.sim"; do
    mkdir -p "$dir/mutants.out"
    for kind in caught previously_caught unviable; do
      cp "$shards/$kind.all" "$dir/mutants.out/$kind.txt"
    done
  done
done

# Test-name filters for the tests/it/ binaries (substring match).
provider_tests=(client:: resource:: sim::)
sim_tests=(auth:: backup_config:: faults:: operators:: reads:: binary::)
# Pass 2: what pass 1 did not catch, against the integration subset. Most of it waits on the
# simulator's clocks, not the CPU: 8 threads run it in about the time of its longest test.
# The provider's mutants against the provider's tests only; the simulator's against both packages'
# (`--test-workspace`), since the provider's tests run against the simulator and catch what it
# gets wrong. Each half writes its own results ($shards/<k> and $shards/<k>.sim).
run_pass "" --iterate --test-workspace=false --exclude 'obshell-sim/**' --timeout 120 \
  --cargo-arg=--test=it "$@" -- -- "${provider_tests[@]}" --skip chaos --test-threads 8
run_pass .sim --iterate --test-workspace=true --exclude 'src/**' --timeout 120 \
  --cargo-arg=--test=it "$@" -- -- "${provider_tests[@]}" "${sim_tests[@]}" --skip chaos \
  --test-threads 8

# One merged result in target/mutants.out/: the outcome lists of both passes and every shard (a
# mutant pass 1 caught is caught; pass 2 decides the rest), and a table per file.
out=$root/target/mutants.out
mkdir -p "$out"
pass2() { cat "$shards"/*/mutants.out/"$1".txt 2>/dev/null || true; }  # every shard, both halves
{ cat "$shards/caught.all"; pass2 caught; } | sort -u >"$out/caught.txt"
{ cat "$shards/unviable.all"; pass2 unviable; } | sort -u >"$out/unviable.txt"
pass2 missed | sort -u >"$out/missed.txt"
pass2 timeout | sort -u >"$out/timeout.txt"
{
  printf '%-40s %7s %7s %7s %8s\n' file caught missed timeout unviable
  for kind in caught missed timeout unviable; do
    sed -E "s/^([^:]+):.*/\1 $kind/" "$out/$kind.txt"
  done | awk '{ n[$1, $2]++; files[$1] } END {
    for (f in files) printf "%-40s %7d %7d %7d %8d\n", f, n[f, "caught"], n[f, "missed"], n[f, "timeout"], n[f, "unviable"]
  }' | sort
} | tee "$out/summary.txt"
if [ -s "$out/missed.txt" ]; then
  echo "mutants: missed (no test fails with these in place):" >&2
  cat "$out/missed.txt" >&2
fi
