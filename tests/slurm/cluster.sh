#!/bin/bash
# A single-node Slurm cluster in a temporary folder, started without systemd (as root): a fresh
# munge key, munged as the munge user, slurmctld and slurmd on unprivileged ports of 127.0.0.1,
# every state, spool, log and pid file in the folder. Sourced by the Slurm tests:
#   source tests/slurm/cluster.sh; cluster_start; ... SLURM_CONF is exported ...; cluster_stop
# The folder is a new one under /tmp that munged (not root) can reach.
# cluster_start returns 77 (skip) with the reason when slurm or munge cannot run here.

cluster_start() {
  # a cluster a killed test left behind (its trap did not run) holds the ports: stopped first
  local old
  for old in /tmp/jf-slurm.*/run; do
    [ -d "$old" ] || continue
    for f in "$old"/slurmd.pid "$old"/slurmctld.pid "$old"/munged.pid; do
      [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 0.5
    rm -rf "$(dirname "$old")"
  done
  SLURM_DIR=$(mktemp -d /tmp/jf-slurm.XXXXXX)
  chmod 0755 "$SLURM_DIR"
  mkdir -p "$SLURM_DIR"/{state,spool,log,run,munge-log}
  for b in slurmctld slurmd munged sbatch sinfo; do
    command -v $b >/dev/null || { echo "SKIP: $b is not installed (apt-get install slurm-wlm munge)"; return 77; }
  done
  [ "$(id -u)" = 0 ] || { echo "SKIP: starting slurmd needs root"; return 77; }
  id munge >/dev/null 2>&1 || { echo "SKIP: no munge user"; return 77; }
  chown munge:munge "$SLURM_DIR/run" "$SLURM_DIR/munge-log"
  chmod 0755 "$SLURM_DIR"
  dd if=/dev/urandom of="$SLURM_DIR/run/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$SLURM_DIR/run/munge.key"; chmod 0400 "$SLURM_DIR/run/munge.key"
  runuser -u munge -- munged --force --key-file="$SLURM_DIR/run/munge.key" --socket="$SLURM_DIR/run/munge.socket" \
    --pid-file="$SLURM_DIR/run/munged.pid" --log-file="$SLURM_DIR/munge-log/munged.log" --seed-file="$SLURM_DIR/run/munge.seed" \
    || { echo "SKIP: munged does not start"; cat "$SLURM_DIR/munge-log/munged.log" 2>/dev/null | tail -3; return 77; }
  local node cpus mem
  node=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 512 ))
  cat > "$SLURM_DIR/slurm.conf" <<CONF
ClusterName=jftest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/run/munge.socket
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/run/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/run/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log
SlurmdLogFile=$SLURM_DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
MaxArraySize=1001
KillWait=5
InactiveLimit=0
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$SLURM_DIR/slurm.conf"
  slurmctld -f "$SLURM_CONF" || { echo "SKIP: slurmctld does not start"; tail -5 "$SLURM_DIR/log/slurmctld.log"; cluster_stop; return 77; }
  slurmd -f "$SLURM_CONF" -N "$node" || { echo "SKIP: slurmd does not start"; tail -5 "$SLURM_DIR/log/slurmd.log"; cluster_stop; return 77; }
  local i
  for i in $(seq 1 100); do
    case "$(sinfo -h -o %T 2>/dev/null)" in idle*|mixed*) echo "slurm: node $node idle after $((i / 10)).$((i % 10)) s"; return 0 ;; esac
    sleep 0.1
  done
  echo "SKIP: the node did not become idle"; sinfo 2>&1 | tail -2; tail -5 "$SLURM_DIR/log/slurmctld.log"; cluster_stop; return 77
}

# Stops every daemon cluster_start started (by their pid files) and removes the folder.
cluster_stop() {
  [ -n "${SLURM_DIR:-}" ] || return 0
  local f pid
  for f in slurmd slurmctld munged; do
    if [ -f "$SLURM_DIR/run/$f.pid" ]; then
      pid=$(cat "$SLURM_DIR/run/$f.pid")
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
    fi
  done
  rm -rf "$SLURM_DIR"
  SLURM_DIR=
}
