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

binary=${1:-${PROVIDER_BINARY:-$root/target/release/terraform-provider-oceanbase}}
if [ ! -x "$binary" ]; then
  echo "install: no provider binary at $binary (run make install, or pass its path)" >&2
  exit 1
fi

# The version of [workspace.package] in Cargo.toml.
version=$(awk '
  /^\[workspace\.package\]/ { inside = 1; next }
  /^\[/ { inside = 0 }
  inside && /^version[[:space:]]*=/ { gsub(/["[:space:]]/, "", $0); sub(/^version=/, "", $0); print; exit }
' "$root/Cargo.toml")
if [ -z "$version" ]; then
  echo "install: cannot read the version from $root/Cargo.toml" >&2
  exit 1
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  FreeBSD) os=freebsd ;;
  *) echo "install: unsupported OS $(uname -s)" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  i386 | i686) arch=386 ;;
  armv7l | armv6l) arch=arm ;;
  *) echo "install: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac

for host in registry.terraform.io registry.opentofu.org; do
  dir="$HOME/.terraform.d/plugins/$host/oceanbase/oceanbase/$version/${os}_${arch}"
  mkdir -p "$dir"
  install -m 0755 "$binary" "$dir/terraform-provider-oceanbase_v$version"
  echo "install: $dir/terraform-provider-oceanbase_v$version" >&2
done
