#!/usr/bin/env bash
# Installs every Debian package coapd needs to build, run and test.
# Usage: scripts/install-deps.sh [--runtime-only]
# Idempotent: packages already present are left alone (apt-get is not even
# called when nothing is missing).
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  liblwip-dev libuv1-dev libspdlog-dev libcli11-dev nlohmann-json3-dev libsystemd-dev
  libmbedtls-dev libmnl-dev libpcap-dev
)
test_pkgs=(
  libgtest-dev libcoap3-bin libcoap3-dev
  iproute2 nftables tcpdump procps systemd
  python3 python3-pytest python3-prometheus-client
  clang libclang-rt-14-dev clang-format
  dpkg-dev lintian man-db groff-base tshark
)

pkgs=("${build_pkgs[@]}")
[[ "${1:-}" == "--runtime-only" ]] || pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
