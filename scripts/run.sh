#!/usr/bin/env bash
# Build rivertwin on a fresh Debian/Ubuntu machine and run it. Without arguments it opens
# the 3D app on the default bundled basin (Merewether); with arguments they go to
# rivertwin (e.g. `scripts/run.sh open basins/jacksboro_valley` or
# `scripts/run.sh run basins/merewether/scenarios/recorded_inflow.toml --out out/m`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
if [ $# -eq 0 ]; then
  set -- open basins/merewether
fi
# Without a display (a server, a container), the app cannot open a window.
if [ "${1:-}" = "open" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "no display (DISPLAY and WAYLAND_DISPLAY are unset): run this from a desktop session," >&2
  echo "or under Xvfb: xvfb-run -s '-screen 0 1600x900x24' scripts/run.sh" >&2
  exit 1
fi
cargo run --release -- "$@"
