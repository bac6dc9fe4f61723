# Sourced by install.sh and release.sh: what they both need to know about the build.
#   provider_target NAME BINARY   sets $binary, $version (Cargo.toml's [workspace.package]
#                                 version, the one the binary was built with), $os and $arch
#                                 (Terraform's names), or exits with a message prefixed by NAME.
provider_target() {
  local name=$1 root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  binary=$2
  if [ ! -x "$binary" ]; then
    echo "$name: no provider binary at $binary (run make $name, or pass its path)" >&2
    exit 1
  fi

  version=$(awk '
    /^\[workspace\.package\]/ { inside = 1; next }
    /^\[/ { inside = 0 }
    inside && /^version[[:space:]]*=/ { gsub(/["[:space:]]/, "", $0); sub(/^version=/, "", $0); print; exit }
  ' "$root/Cargo.toml")
  if [ -z "$version" ]; then
    echo "$name: cannot read the version from $root/Cargo.toml" >&2
    exit 1
  fi

  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    FreeBSD) os=freebsd ;;
    *) echo "$name: unsupported OS $(uname -s)" >&2; exit 1 ;;
  esac
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    i386 | i686) arch=386 ;;
    armv7l | armv6l) arch=arm ;;
    *) echo "$name: unsupported architecture $(uname -m)" >&2; exit 1 ;;
  esac
}
