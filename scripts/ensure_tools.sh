#!/usr/bin/env bash
# Install missing Debian packages when running as root; otherwise say exactly what to install.
set -euo pipefail
missing=()
for pkg in "$@"; do
  exe=$pkg
  [ "$pkg" = tabix ] && exe=bgzip
  command -v "$exe" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "error: missing tools: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
