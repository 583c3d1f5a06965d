#!/usr/bin/env bash
# Bring up a one-node Slurm cluster on this machine for the Slurm integration tests.
#
# As root on Debian: installs munge, slurmctld, slurmd and slurm-client with apt (if missing),
# writes /etc/slurm/slurm.conf (the node line from `slurmd -C`, one fake GPU as gres so that
# `gpu: 1` jobs really get scheduled, no accounting), starts munged, slurmctld and slurmd
# directly (no systemd in containers) and waits until `sinfo` shows the node idle.
# Idempotent: daemons that are already running are left as they are. tests/slurm/teardown.sh
# stops exactly the daemons this script started (recorded in $STATE_DIR/started).
# On failure it prints the daemons' logs and the node's state.
set -euo pipefail

PARTITION="${STELAB_SLURM_PARTITION:-gpu}"   # the name profiles/slurm/config.yaml uses
CLUSTER_NAME="stelab"
CONF_DIR="/etc/slurm"
CONF="$CONF_DIR/slurm.conf"
GRES_CONF="$CONF_DIR/gres.conf"
MARKER="# written by stelab tests/slurm/cluster.sh"
STATE_DIR="/run/stelab-slurm"
LOG_DIR="/var/log/slurm"
MUNGE_PID="/run/munge/munged.pid"
SLURMCTLD_PID="$STATE_DIR/slurmctld.pid"
SLURMD_PID="$STATE_DIR/slurmd.pid"
WAIT_S="${STELAB_SLURM_WAIT_S:-90}"

die() {
  echo "cluster.sh: $*" >&2
  diagnostics >&2
  exit 1
}

diagnostics() {
  echo "---- diagnostics ----"
  for f in /var/log/munge/munged.log "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
    [ -f "$f" ] && { echo "== tail $f"; tail -n 25 "$f"; }
  done
  echo "== sinfo"; timeout 10 sinfo -N -l 2>&1 || true
  echo "== scontrol show node"; timeout 10 scontrol show node 2>&1 || true
}

alive() {  # alive PIDFILE: the pid file names a running process
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

record_started() {
  grep -qx "$1" "$STATE_DIR/started" 2>/dev/null || echo "$1" >> "$STATE_DIR/started"
}

[ "$(id -u)" -eq 0 ] || { echo "cluster.sh: must run as root" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
   || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends munge slurmctld slurmd slurm-client
fi

id slurm >/dev/null 2>&1 || die "the 'slurm' user is missing (it comes with the Debian slurm packages)"
id munge >/dev/null 2>&1 || die "the 'munge' user is missing (it comes with the Debian munge package)"
mkdir -p "$STATE_DIR" "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd \
         /run/munge /var/log/munge /var/lib/munge /etc/munge
chown slurm:slurm /var/spool/slurmctld "$LOG_DIR"
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
chmod 0700 /var/log/munge /var/lib/munge

# ---- munge ----
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge
chmod 0400 /etc/munge/munge.key
if ! alive "$MUNGE_PID"; then
  runuser -u munge -- munged --pid-file="$MUNGE_PID" || die "munged did not start"
  record_started munged
fi
for _ in $(seq 20); do munge -n </dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n </dev/null | unmunge >/dev/null || die "munge credentials do not round-trip"

# ---- configuration (never overwrite a slurm.conf this script did not write) ----
if [ -f "$CONF" ] && ! head -n 1 "$CONF" | grep -qxF "$MARKER"; then
  die "$CONF exists and was not written by this script; refusing to overwrite it"
fi
node_line="$(slurmd -C | head -n 1)"
case "$node_line" in NodeName=*) ;; *) die "unexpected 'slurmd -C' output: $node_line" ;; esac
node_name="$(sed -E 's/^NodeName=([^ ]+).*/\1/' <<<"$node_line")"
new_conf="$(cat <<EOF
$MARKER
ClusterName=$CLUSTER_NAME
SlurmctldHost=$node_name
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$SLURMCTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
JobCompType=jobcomp/none
# finished jobs stay visible to squeue for 10 minutes: the executor's squeue status check needs them
MinJobAge=600
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5
$node_line Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)"
new_gres="$(printf '%s\nNodeName=%s Name=gpu File=/dev/null\n' "$MARKER" "$node_name")"
if [ "$(cat "$CONF" 2>/dev/null)" != "$new_conf" ] || [ "$(cat "$GRES_CONF" 2>/dev/null)" != "$new_gres" ]; then
  if alive "$SLURMCTLD_PID" || alive "$SLURMD_PID"; then
    die "Slurm daemons are running with a different configuration; run tests/slurm/teardown.sh first"
  fi
  printf '%s\n' "$new_conf" > "$CONF"
  printf '%s\n' "$new_gres" > "$GRES_CONF"
fi

# ---- daemons ----
if ! alive "$SLURMCTLD_PID"; then
  slurmctld -f "$CONF" || die "slurmctld did not start"
  record_started slurmctld
fi
for _ in $(seq 40); do timeout 5 scontrol ping 2>/dev/null | grep -q "is UP" && break; sleep 0.5; done
timeout 5 scontrol ping 2>/dev/null | grep -q "is UP" || die "slurmctld does not answer 'scontrol ping'"
if ! alive "$SLURMD_PID"; then
  slurmd -f "$CONF" || die "slurmd did not start"
  record_started slurmd
fi

# ---- wait for the node ----
resumed=0
for _ in $(seq "$((WAIT_S * 2))"); do
  state="$(timeout 5 sinfo -h -N -n "$node_name" -o '%T' 2>/dev/null | head -n 1 || true)"
  case "$state" in
    idle|mixed|allocated|completing)
      echo "cluster.sh: node $node_name is $state in partition $PARTITION (cluster $CLUSTER_NAME)"
      sinfo
      exit 0 ;;
    down*|drain*|drained*)
      if [ "$resumed" -eq 0 ]; then
        scontrol update NodeName="$node_name" State=RESUME >/dev/null 2>&1 || true
        resumed=1
      fi ;;
  esac
  sleep 0.5
done
die "node $node_name did not become idle within ${WAIT_S}s (last state: '${state:-none}')"
