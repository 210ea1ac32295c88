#!/usr/bin/env bash
# Install what is missing, then run every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
cargo test --workspace --all-targets
cargo test --workspace --doc
# A one-node Slurm cluster runs an ensemble as a job array (says so loudly and passes
# where its daemons cannot run, e.g. without root).
tests/slurm/run.sh
