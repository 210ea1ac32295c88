#!/usr/bin/env bash
# Build rivertwin on a fresh Debian/Ubuntu machine and run it. Without arguments it runs
# the default bundled basin (Merewether, recorded inflow) and writes the results to
# out/merewether; with arguments they go to rivertwin (e.g. `scripts/run.sh info basins/merewether`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
if [ $# -eq 0 ]; then
  set -- run basins/merewether/scenarios/recorded_inflow.toml --out out/merewether --force
fi
cargo run --release -- "$@"
