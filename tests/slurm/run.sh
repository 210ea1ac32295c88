#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine (munge + slurmctld + slurmd from Debian's
# packages, configured in a temporary folder): an 8-member ensemble of Trinity's
# intense_burst is submitted as a job array with a dependent merge job; its merged maps must
# equal, byte for byte, those of `rivertwin ensemble run` + `merge` on the same plan; then
# one member's result is removed and a second submission must run that member only.
# Needs root (the daemons) and the debug binary built by `cargo test`. Where the daemons
# cannot run, it says so loudly and exits 0, so that the rest of the suite still counts.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
exe="${CARGO_TARGET_DIR:-$root/target}/debug/rivertwin"
skip() {
  echo "################################################################"
  echo "## SLURM TEST SKIPPED: $1"
  echo "################################################################"
  exit 0
}
[ "$(id -u)" -eq 0 ] || skip "not root: the Slurm daemons cannot be started here"
for c in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$c" >/dev/null || skip "$c is not installed (Debian packages slurm-wlm, munge)"
done
[ -x "$exe" ] || skip "$exe is missing (cargo test builds it)"
started=$(date +%s)
tmp=$(mktemp -d)
export SLURM_CONF="$tmp/slurm.conf"
cleanup() {
  scontrol shutdown >/dev/null 2>&1 || true
  sleep 1
  [ -f "$tmp/slurmd.pid" ] && kill "$(cat "$tmp/slurmd.pid")" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# munge: the key the package made, or a new one.
[ -f /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 || skip "no munge key"
mkdir -p /run/munge /var/log/munge /var/lib/munge
pgrep -x munged >/dev/null || munged --force || skip "munged does not start"

cpus=$(nproc)
memory_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
cat > "$SLURM_CONF" <<CONF
ClusterName=rivertwintest
SlurmctldHost=localhost
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdSpoolDir=$tmp/slurmd
StateSaveLocation=$tmp/slurmctld
SlurmctldPidFile=$tmp/slurmctld.pid
SlurmdPidFile=$tmp/slurmd.pid
SlurmctldLogFile=$tmp/slurmctld.log
SlurmdLogFile=$tmp/slurmd.log
ReturnToService=2
JobCompType=jobcomp/none
MpiDefault=none
NodeName=localhost CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
mkdir -p "$tmp/slurmd" "$tmp/slurmctld"
slurmctld -c || skip "slurmctld does not start ($(tail -3 "$tmp/slurmctld.log" 2>/dev/null))"
slurmd || skip "slurmd does not start ($(tail -3 "$tmp/slurmd.log" 2>/dev/null))"
for _ in $(seq 60); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] || skip "the node did not come up: $(sinfo 2>&1 | tail -1)"
echo "slurm: one-node cluster up in $(( $(date +%s) - started )) s"

cat > "$tmp/ensemble.toml" <<TOML
base = "$root/basins/trinity_storm/scenarios/intense_burst.toml"
sampling = "latin_hypercube"
members = 8
seed = 11

[parameters]
rain_scale = { min = 0.6, max = 1.4 }
manning_scale = { values = [0.8, 1.0, 1.25] }
TOML
"$exe" ensemble plan "$tmp/ensemble.toml" --out "$tmp/local"
"$exe" ensemble plan "$tmp/ensemble.toml" --out "$tmp/cluster"
"$exe" ensemble run "$tmp/local" --threads 1
"$exe" ensemble merge "$tmp/local"

wait_for() {  # the merge job of the last submission
  local job
  job=$(cat "$tmp/cluster/slurm/last_merge_job")
  for _ in $(seq 600); do
    squeue -h -j "$job" 2>/dev/null | grep -q . || return 0
    sleep 1
  done
  echo "slurm: job $job still queued after 600 s"; squeue; exit 1
}
same_maps() {
  local n=0
  for f in "$tmp/local/merged"/*; do
    cmp "$f" "$tmp/cluster/merged/$(basename "$f")" || { echo "slurm: $(basename "$f") differs"; exit 1; }
    n=$((n + 1))
  done
  [ "$n" -ge 8 ] || { echo "slurm: only $n merged files"; exit 1; }
  echo "slurm: $n merged files equal byte for byte"
}

"$exe" ensemble slurm "$tmp/cluster" --max-parallel 2 --threads 1 >/dev/null
out=$("$tmp/cluster/slurm/submit.sh")
echo "slurm: $out"
echo "$out" | grep -q "(0,1,2,3,4,5,6,7)" || { echo "slurm: expected all 8 members in the array"; exit 1; }
wait_for
same_maps

# Resubmission runs only the member without a result.
rm -rf "$tmp/cluster/runs/member_0005"
out=$("$tmp/cluster/slurm/submit.sh")
echo "slurm: $out"
echo "$out" | grep -q "(5)," || echo "$out" | grep -q "(5)$" || { echo "slurm: expected member 5 only"; exit 1; }
wait_for
same_maps
[ -f "$tmp/cluster/runs/member_0005/summary.json" ] || { echo "slurm: member 5 not rerun"; exit 1; }
echo "slurm: test passed in $(( $(date +%s) - started )) s"
