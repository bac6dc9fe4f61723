#!/usr/bin/env bash
# Installs the provider binary into Terraform's implied local mirror, so that `terraform init`
# finds oceanbase/oceanbase with no network and no dev_overrides:
#   ~/.terraform.d/plugins/registry.terraform.io/oceanbase/oceanbase/VERSION/OS_ARCH/
# and the same under registry.opentofu.org/ for OpenTofu.
#
#   scripts/install.sh [BINARY]
#
# BINARY defaults to $PROVIDER_BINARY, then target/release/terraform-provider-oceanbase
# (`make install` builds it). VERSION is the package version in Cargo.toml, the one the binary
# was built with. HOME decides where the mirror is.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=scripts/provider-target.sh
. "$root/scripts/provider-target.sh"
provider_target install "${1:-${PROVIDER_BINARY:-$root/target/release/terraform-provider-oceanbase}}"

for host in registry.terraform.io registry.opentofu.org; do
  dir="$HOME/.terraform.d/plugins/$host/oceanbase/oceanbase/$version/${os}_${arch}"
  mkdir -p "$dir"
  install -m 0755 "$binary" "$dir/terraform-provider-oceanbase_v$version"
  echo "install: $dir/terraform-provider-oceanbase_v$version" >&2
done
