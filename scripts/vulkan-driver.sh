#!/usr/bin/env bash
# Makes a Vulkan driver available for cram's wgpu backend and its tests. On a machine without a GPU,
# Mesa's lavapipe (Debian package mesa-vulkan-drivers) is a Vulkan adapter that runs on the CPU.
# Installs it with apt-get only when it is missing. Safe to run twice.
set -euo pipefail
packages=(mesa-vulkan-drivers libvulkan1)
installed() { dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
else
  echo "not a Debian system: install a Vulkan driver yourself (Mesa's lavapipe works without a GPU)" >&2
  exit 0
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "Vulkan driver present (${packages[*]})"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "installing ${missing[*]}"
# The package lists may be missing or stale on a fresh machine: refresh them when the first try fails.
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
echo "Vulkan driver installed (${missing[*]})"
