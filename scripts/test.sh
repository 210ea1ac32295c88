#!/usr/bin/env bash
# Install what is missing, then run every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo test --workspace --all-targets
cargo test --workspace --doc
