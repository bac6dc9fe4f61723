#!/usr/bin/env bash
# Mutation testing (make mutants): cargo-mutants, pinned and installed into .tools/, over the
# modules that decide what is sent to obshell and what the state says, in two passes:
#
#   1. unit pass: every mutant against the unit tests of the package it is in (a mutant needs only
#      that package's lib test binary rebuilt: about 6 s here);
#   2. integration pass (`--iterate`): only the mutants the unit pass did not catch, against the
#      unit tests plus the client, resource and sim tests of tests/it/ and the simulator's own
#      tests (not the real-Terraform acceptance, gRPC, docs or install tests, nor the two chaos
#      runs, which take 30 s each and only repeat what the targeted tests check).
#
#   scripts/mutants.sh                                every listed module
#   scripts/mutants.sh --file src/obshell/dag.rs      one file (any cargo-mutants option works)
#   scripts/mutants.sh --in-diff my.diff              only the lines a diff changes
#   scripts/mutants.sh --list                         list the mutants, test nothing
#
# Results: target/mutants.out/ (outcomes.json, caught.txt, missed.txt, timeout.txt, unviable.txt,
# previously_caught.txt with what the unit pass caught, one log per mutant).
#
# Mutants are built with the `mutants` profile (no debug info) in a scratch copy of the tracked
# and unignored files, target/mutants-tree/, whose own target/ holds only that profile: each of the
# MUTANTS_JOBS (default 2) parallel jobs copies it, so the copies start with every dependency
# compiled, and this checkout's target/debug is neither copied nor locked.
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
for arg in "$@"; do
  case "$arg" in
    --file | -f | --file=* | --in-diff | --in-diff=*) selection=(none) ;;
    --list) listing=true ;;
  esac
done
if [ "${selection[*]-}" = none ]; then
  selection=()
else
  for file in "${files[@]}"; do selection+=(--file "$file"); done
fi

# The scratch tree: this checkout's files as they are now (committed or not), nothing else.
tree=$root/target/mutants-tree
mkdir -p "$tree"
find "$tree" -mindepth 1 -maxdepth 1 ! -name target -exec rm -rf {} +
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' path; do
  [ -e "$path" ] && printf '%s\0' "$path"
done | tar --null -T - -cf - | tar -xf - -C "$tree"
cd "$tree"
unset CARGO_TARGET_DIR

common=(mutants --workspace --profile mutants --copy-target=true --jobs "${MUTANTS_JOBS:-2}"
  --output "$root/target" "${selection[@]}")
if $listing; then
  exec "$bin" "${common[@]}" "$@"
fi

# Compile what both passes need once, here, so every job's copy starts warm. Each pass builds
# with the package selection it tests with (features unify per selection).
cargo test --profile mutants --quiet --no-run -p terraform-provider-oceanbase --lib
cargo test --profile mutants --quiet --no-run -p obshell-sim --lib
cargo test --profile mutants --quiet --no-run --workspace --lib --test it

# Exit status 2 is "some mutants were missed" and 3 "some timed out": the integration pass
# decides those, so the unit pass's status only stops the script when it is something else.
status=0
"$bin" "${common[@]}" --test-workspace=false --timeout 60 "$@" -- --lib || status=$?
case "$status" in 0 | 2 | 3) ;; *) exit "$status" ;; esac

# Test-name filters for both packages' unit tests and tests/it/ binaries (substring match).
filters=(
  tests::                                                        # unit tests beside the code
  client:: resource:: sim::                                      # tests/it/ of the provider
  auth:: backup_config:: faults:: operators:: reads:: binary::    # obshell-sim/tests/it/
)
# Most of the subset waits on the simulator's clocks, not the CPU: 16 threads run it in about the
# time of its longest test. `--test-workspace`: a simulator mutant can be caught by the provider's
# tests against it.
exec "$bin" "${common[@]}" --iterate --test-workspace=true --timeout 120 "$@" \
  -- --lib --test it -- "${filters[@]}" --skip chaos --test-threads 16
