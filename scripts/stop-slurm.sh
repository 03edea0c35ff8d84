#!/usr/bin/env bash
# Stops the daemons started by start-slurm.sh, by PID file (no pkill/killall).
S=${SLURM_ROOT:-/tmp/slurm}
pids=()
for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/slurmdbd.pid" /run/mysqld/mysqld.pid /run/munge/munged.pid; do
  [ -s "$f" ] || continue
  p=$(cat "$f"); kill "$p" 2>/dev/null && pids+=("$p")
done
for p in "${pids[@]}"; do
  for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
done
