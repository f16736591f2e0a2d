#!/usr/bin/env bash
# Installs everything tpm2emu needs to build and test on Debian 12 (bookworm). Run as root
# (or with sudo available). Safe to run again.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build pkg-config
  libssl-dev libboost-dev libfuse3-dev
  libgtest-dev googletest
  libtss2-dev tpm2-tools tpm2-abrmd
  libtss2-tcti-tabrmd0 dbus libglib2.0-bin
  python3 openssl
)

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-deps.sh: run as root (or install sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update
"${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
