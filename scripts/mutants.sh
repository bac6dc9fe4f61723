#!/usr/bin/env bash
# Mutation testing (make mutants): cargo-mutants, pinned and installed into .tools/, over the
# modules listed in .cargo/mutants.toml, running the fastest test subset that covers them: the
# unit tests, the client, resource and sim tests of tests/it/ and the simulator's own tests
# (not the real-Terraform acceptance, gRPC, docs or install tests).
#
#   scripts/mutants.sh                                   every listed module
#   scripts/mutants.sh --file src/obshell/dag.rs         one file (any cargo-mutants option works)
#
# Results go to target/mutants.out/ (outcomes.json, caught.txt, missed.txt, ...). Each mutant is
# built in a copy of the tree against this checkout's target/ (the dependencies that `make test`
# compiled are reused), so other cargo commands in this checkout wait until it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

version=27.1.0
bin=.tools/bin/cargo-mutants
if [ ! -x "$bin" ] || [ "$("$bin" mutants --version 2>/dev/null)" != "cargo-mutants $version" ]; then
  echo "mutants: installing cargo-mutants $version into .tools/" >&2
  cargo install --locked --quiet --version "$version" --root .tools cargo-mutants
fi

# The modules that decide what is sent to obshell and what the state says, and the simulator's
# validation and DAG engine that the tests trust. `--file` on the command line replaces them.
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
case " $* " in
  *" --file "* | *" -f "* | *" --file="*) ;;
  *) for file in "${files[@]}"; do selection+=(--file "$file"); done ;;
esac

export CARGO_TARGET_DIR="$root/target"
# Test-name filters, passed to every test binary of both packages (substring match).
filters=(
  tests::                 # unit tests beside the code, both crates
  client:: resource:: sim::                                      # tests/it/ of the provider
  auth:: backup_config:: faults:: operators:: reads:: binary::    # obshell-sim/tests/it/
)
# `--test-workspace`: a sim mutant is caught by the sim's own tests or by the provider's tests
# against the sim. After cargo-mutants' `--` come cargo test's arguments: only the unit tests and
# tests/it/ of both packages (no doc tests, no binary's unit tests), then the filters.
exec "$bin" mutants --workspace --test-workspace=true --output target "${selection[@]}" "$@" \
  -- --lib --test it -- "${filters[@]}"
