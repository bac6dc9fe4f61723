#!/usr/bin/env bash
# Drift check for CI: runs `terraform plan -detailed-exitcode` in a Terraform directory that is
# already initialised (`terraform init`) and reports what the exit code means.
#
#   check-drift.sh [DIR]        DIR defaults to the current directory
#
# Exit codes (Terraform's, passed through):
#   0  no drift: the cluster matches the configuration
#   1  error: Terraform or the provider failed (unreachable obshell, wrong password, bad config);
#      nothing is known about drift
#   2  drift: the plan has changes, for example a backup setting changed outside Terraform
#
# Environment: TERRAFORM (default `terraform`; `tofu` works too), OCEANBASE_ENDPOINT and
# OCEANBASE_PASSWORD for the provider. The plan is printed, so the CI log shows what drifted.
set -uo pipefail

dir=${1:-.}
terraform=${TERRAFORM:-terraform}

"$terraform" -chdir="$dir" plan -detailed-exitcode -input=false -no-color -lock-timeout=60s
code=$?

case $code in
  0) echo "check-drift: no drift" >&2 ;;
  2) echo "check-drift: DRIFT: the plan above shows what differs from the configuration" >&2 ;;
  *) echo "check-drift: ERROR: terraform plan failed (exit $code); drift unknown" >&2; code=1 ;;
esac
exit "$code"
