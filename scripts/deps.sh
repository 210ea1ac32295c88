#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks to build and test rivertwin:
# a C toolchain, pkg-config and GDAL's development files (Debian packages), and Rust
# (rustup), when missing. For the 3D app: the X11 and Vulkan loader libraries the window
# opens with, and for its window test Xvfb with Mesa's software Vulkan (lavapipe), which
# also lets the app run on a machine without a GPU. For the ensemble test, Slurm and munge
# (tests/slurm/run.sh starts a one-node cluster in a temporary folder).
set -euo pipefail

packages=(build-essential pkg-config curl ca-certificates libgdal-dev
  libx11-6 libxcursor1 libxrandr2 libxi6 libxkbcommon-x11-0 libvulkan1 mesa-vulkan-drivers
  xvfb xauth slurm-wlm munge)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain 1.95.0 --profile minimal -c clippy -c rustfmt
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
