#!/usr/bin/env bash
# Build and run rivertwin on a fresh Debian/Ubuntu machine. Extra arguments go to rivertwin.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo run --release -- "$@"
