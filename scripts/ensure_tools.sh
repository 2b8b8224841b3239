#!/usr/bin/env bash
# Install missing Debian packages when running as root; otherwise say exactly what to install.
# Packages are checked by the command they provide; python3-dev by the Python.h of $PY (the
# interpreter that will build the compiled kernel, python3 by default); libhts-dev by pkg-config.
set -euo pipefail
has_python_headers() {
  "${PY:-python3}" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}
missing=()
for pkg in "$@"; do
  case $pkg in
    python3-dev) has_python_headers || missing+=("$pkg"); continue ;;
    libhts-dev) pkg-config --exists htslib 2>/dev/null || missing+=("$pkg"); continue ;;
    build-essential) exe=gcc ;;
    tabix) exe=bgzip ;;
    *) exe=$pkg ;;
  esac
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
