#!/usr/bin/env bash
# A throwaway single-node SLURM cluster on localhost, for trying and testing
# `tandem sweep --executor slurm` (docs/sweep-slurm.md).
#
#   scripts/slurm-local.sh start    # install if missing, start, wait until idle
#   scripts/slurm-local.sh status   # what runs, and the line to export
#   scripts/slurm-local.sh stop     # stop what start started, remove the dir
#
# Everything lives under $SLURM_LOCAL_DIR (default target/slurm-local): a
# munge key made on the spot, slurm.conf, state, spool, logs and pid files.
# Nothing under /etc is read or written: the daemons and the client commands
# get the config through SLURM_CONF / -f, and munge runs with its own socket,
# key, pid and log files. `start` ends by printing the line callers need:
#
#   export SLURM_CONF=<dir>/slurm.conf
#
# The controller listens on $SLURM_LOCAL_PORT (default 6817, or the next free
# pair above it) and slurmd on the port after it. `stop` stops only the
# daemons whose pid files are in the directory (checking each pid is still
# that daemon), then removes the directory.
#
# Exit status: 0 done; 1 a daemon did not come up (logs are printed);
# 2 usage; 3 cannot start here (not root, or SLURM/munge missing and
# apt-get unavailable or failing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
dir="${SLURM_LOCAL_DIR:-$root/target/slurm-local}"
if [ -d "$dir" ]; then dir="$(cd "$dir" && pwd)"; fi
marker="$dir/.slurm-local"
conf="$dir/slurm.conf"

say() { echo "slurm-local: $*" >&2; }

usage() {
  echo "usage: $0 start|stop|status   (directory: \$SLURM_LOCAL_DIR, default target/slurm-local)" >&2
  exit 2
}

# pid from a pid file, if that process is alive and is the daemon named.
live_pid() {
  local file="$1" name="$2" pid comm
  [ -s "$file" ] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [ -n "$pid" ] || return 1
  [ -r "/proc/$pid/comm" ] || return 1
  comm="$(cat "/proc/$pid/comm")"
  [ "$comm" = "$name" ] || return 1
  echo "$pid"
}

daemons=(slurmd:slurmd.pid slurmctld:slurmctld.pid munged:munge/munged.pid)

# How many of the three daemons run.
running() {
  local entry name file n=0
  for entry in "${daemons[@]}"; do
    name="${entry%%:*}"
    file="$dir/${entry#*:}"
    if live_pid "$file" "$name" >/dev/null; then n=$((n + 1)); fi
  done
  echo $n
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install_packages() {
  local missing=()
  for cmd in munged slurmctld slurmd sbatch squeue sinfo; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    say "missing ${missing[*]} and not root: cannot install them (apt-get install slurmd slurmctld slurm-client munge)"
    exit 3
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]} and no apt-get: install SLURM (slurmd, slurmctld, client tools) and munge by hand"
    exit 3
  fi
  say "installing slurmd slurmctld slurm-client munge with apt-get (a minute the first time)"
  export DEBIAN_FRONTEND=noninteractive
  # A failed update (no network, unsigned lists) still leaves older lists
  # that may do; the install below decides.
  apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the package lists there are"
  if ! apt-get install -y -qq --no-install-recommends slurmd slurmctld slurm-client munge >"${TMPDIR:-/tmp}/slurm-local-apt.log" 2>&1; then
    tail -5 "${TMPDIR:-/tmp}/slurm-local-apt.log" >&2 || true
    say "apt-get install failed: cannot start here"
    exit 3
  fi
}

wait_for() { # seconds, description, command...
  local limit="$1" what="$2"
  shift 2
  local i
  for ((i = 0; i < limit * 10; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  say "timed out after ${limit} s waiting for $what"
  return 1
}

show_logs() {
  local log
  for log in "$dir/munge/munged.log" "$dir/log/slurmctld.log" "$dir/log/slurmd.log"; do
    [ -f "$log" ] || continue
    echo "--- $log (last lines)" >&2
    tail -15 "$log" >&2
  done
}

node_state() { SLURM_CONF="$conf" sinfo -h -N -o '%T' 2>/dev/null | head -1; }
node_idle() { [ "$(node_state)" = "idle" ]; }
node_up() { case "$(node_state)" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac; }

fail_start() {
  say "$1"
  show_logs
  stop_daemons
  exit 1
}

start() {
  if [ -f "$marker" ] && [ "$(running)" -eq 3 ] && node_up; then
    say "already running in $dir"
    echo "export SLURM_CONF=$conf"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    say "needs root (the throwaway cluster runs its daemons as SlurmUser=root): cannot start here"
    exit 3
  fi
  install_packages
  if [ -e "$dir" ]; then
    if [ -f "$marker" ]; then
      # A cluster from before, dead or half alive: stop what is left of it.
      stop_daemons
      rm -rf "$dir"
    else
      say "$dir exists and is not a slurm-local directory; choose another SLURM_LOCAL_DIR"
      exit 2
    fi
  fi
  mkdir -p "$dir"/{munge,state,spool,log}
  dir="$(cd "$dir" && pwd)"
  marker="$dir/.slurm-local"
  conf="$dir/slurm.conf"
  touch "$marker"
  chmod 700 "$dir/munge"
  local socket="$dir/munge/munge.socket"
  if [ ${#socket} -gt 100 ]; then
    say "$socket is too long for a Unix socket; choose a shorter SLURM_LOCAL_DIR"
    exit 2
  fi

  local port="${SLURM_LOCAL_PORT:-6817}" tries=0
  while port_busy "$port" || port_busy "$((port + 1))"; do
    port=$((port + 2))
    tries=$((tries + 1))
    [ $tries -lt 50 ] || { say "no free port pair from ${SLURM_LOCAL_PORT:-6817} up"; exit 1; }
  done

  local host cpus
  host="$(hostname -s)"
  cpus="$(nproc)"
  : >"$dir/plugstack.conf"
  cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a throwaway single-node cluster.
ClusterName=tandemlocal
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
PlugStackConfig=$dir/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# No database: sacct does not work, squeue does (tandem sweep needs only it).
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Trust the node line below rather than what slurmd detects.
SlurmdParameters=config_overrides
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  munged --force \
    --socket="$socket" \
    --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" \
    || fail_start "munged did not start"
  wait_for 10 "munged" test -S "$socket" || fail_start "munged did not create $socket"

  SLURM_CONF="$conf" slurmctld -f "$conf" || fail_start "slurmctld did not start"
  wait_for 20 "slurmctld" env SLURM_CONF="$conf" scontrol ping \
    || fail_start "slurmctld does not answer"
  SLURM_CONF="$conf" slurmd -f "$conf" || fail_start "slurmd did not start"
  wait_for 30 "node $host to be idle" node_idle || fail_start "node $host never became idle"

  say "cluster up in $dir: node $host ($cpus CPUs), partition local, ports $port/$((port + 1))"
  echo "export SLURM_CONF=$conf"
}

stop_daemons() {
  local entry name file pid i
  if [ -f "$conf" ] && live_pid "$dir/slurmctld.pid" slurmctld >/dev/null; then
    # Jobs of this cluster only (SLURM_CONF names it); their steps run under our slurmd.
    SLURM_CONF="$conf" scancel --quiet --full --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [ -z "$(SLURM_CONF="$conf" squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  # SIGTERM to all at once (each takes a second or two to exit), then wait.
  local pids=() names=()
  for entry in "${daemons[@]}"; do
    name="${entry%%:*}"
    file="$dir/${entry#*:}"
    pid="$(live_pid "$file" "$name")" || continue
    kill "$pid" 2>/dev/null || true
    pids+=("$pid")
    names+=("$name")
  done
  for ((i = 0; i < ${#pids[@]}; i++)); do
    pid="${pids[$i]}"
    local waited
    for ((waited = 0; waited < 100; waited++)); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    if [ -d "/proc/$pid" ]; then
      say "${names[$i]} ($pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
    say "stopped ${names[$i]} ($pid)"
  done
}

stop() {
  if [ ! -e "$dir" ]; then
    say "nothing in $dir"
    return 0
  fi
  if [ ! -f "$marker" ]; then
    say "$dir is not a slurm-local directory; leaving it alone"
    exit 2
  fi
  stop_daemons
  rm -rf "$dir"
  say "removed $dir"
}

status() {
  if [ ! -f "$marker" ]; then
    say "not started (no $dir)"
    return 1
  fi
  local entry name file pid rc=0
  for entry in "${daemons[@]}"; do
    name="${entry%%:*}"
    file="$dir/${entry#*:}"
    if pid="$(live_pid "$file" "$name")"; then
      say "$name running ($pid)"
    else
      say "$name NOT running"
      rc=1
    fi
  done
  if [ $rc -eq 0 ]; then
    SLURM_CONF="$conf" sinfo -N -o '%N %P %T %c' >&2 || rc=1
    SLURM_CONF="$conf" squeue >&2 || rc=1
    echo "export SLURM_CONF=$conf"
  fi
  return $rc
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
