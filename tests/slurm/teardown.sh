#!/usr/bin/env bash
# Stop the one-node Slurm cluster that tests/slurm/cluster.sh brought up: exactly the daemons it
# recorded as started by it (slurmd, slurmctld, munged), each through its pid file. Daemons it found
# already running are left alone. Jobs still on the cluster are cancelled first.
set -uo pipefail

STATE_DIR="/run/stelab-slurm"
STARTED="$STATE_DIR/started"

pidfile() {
  case "$1" in
    munged) echo /run/munge/munged.pid ;;
    slurmctld) echo "$STATE_DIR/slurmctld.pid" ;;
    slurmd) echo "$STATE_DIR/slurmd.pid" ;;
  esac
}

stop() {  # stop NAME: TERM the pid in its pid file, wait up to 15 s, then KILL
  local file pid
  file="$(pidfile "$1")"
  [ -s "$file" ] || { echo "teardown.sh: no pid file for $1 ($file)"; return 0; }
  pid="$(cat "$file")"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "teardown.sh: $1 (pid $pid) is not running"
    return 0
  fi
  kill -TERM "$pid"
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "teardown.sh: $1 (pid $pid) ignored TERM; sending KILL"
    kill -KILL "$pid"
  fi
  echo "teardown.sh: stopped $1 (pid $pid)"
}

[ -f "$STARTED" ] || { echo "teardown.sh: nothing to stop ($STARTED is missing)"; exit 0; }

if grep -qx slurmctld "$STARTED"; then
  jobs="$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ')"
  if [ -n "${jobs// }" ]; then
    # shellcheck disable=SC2086  # one argument per job id
    timeout 10 scancel $jobs || true
  fi
fi
for name in slurmd slurmctld munged; do
  grep -qx "$name" "$STARTED" && stop "$name"
done
rm -f "$STARTED"
