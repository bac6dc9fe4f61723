#!/usr/bin/env bash
# Builds the Terraform Registry's release files for this machine's OS and architecture:
#   terraform-provider-oceanbase_VERSION_OS_ARCH.zip   holding terraform-provider-oceanbase_vVERSION
#   terraform-provider-oceanbase_VERSION_manifest.json  a copy of terraform-registry-manifest.json
#   terraform-provider-oceanbase_VERSION_SHA256SUMS     sha256sum lines for the zip and the manifest
#
#   scripts/release.sh [OUT_DIR] [BINARY]
#
# OUT_DIR defaults to dist/; BINARY to $PROVIDER_BINARY, then
# target/release/terraform-provider-oceanbase (`make release` builds it). VERSION is the package
# version in Cargo.toml. Signing the checksums (_SHA256SUMS.sig) is left to the release manager's
# GPG key: `gpg --detach-sign OUT_DIR/*_SHA256SUMS`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

out=${1:-$root/dist}
# shellcheck source=scripts/provider-target.sh
. "$root/scripts/provider-target.sh"
provider_target release "${2:-${PROVIDER_BINARY:-$root/target/release/terraform-provider-oceanbase}}"

name=terraform-provider-oceanbase
zip_name=${name}_${version}_${os}_${arch}.zip
manifest_name=${name}_${version}_manifest.json
sums_name=${name}_${version}_SHA256SUMS

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/${name}_v$version"
rm -f "$out/$zip_name"
if command -v zip >/dev/null 2>&1; then
  (cd "$stage" && zip -q -X "$out/$zip_name" "${name}_v$version")
else
  python=python3
  [ -x "$root/.venv/bin/python" ] && python="$root/.venv/bin/python"
  "$python" - "$stage/${name}_v$version" "$out/$zip_name" <<'PY'
import os, sys, zipfile
source, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
    info = zipfile.ZipInfo(os.path.basename(source))
    info.external_attr = 0o100755 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(source, "rb") as f:
        archive.writestr(info, f.read())
PY
fi
cp "$root/terraform-registry-manifest.json" "$out/$manifest_name"
(cd "$out" && sha256sum "$zip_name" "$manifest_name" > "$sums_name")
echo "release: $out/$zip_name" >&2
echo "release: $out/$manifest_name" >&2
echo "release: $out/$sums_name" >&2
