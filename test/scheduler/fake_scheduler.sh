#!/bin/bash
# A fake PBS Pro / Slurm for testing the job scripts in examples/jobs on one machine.
#
#   fake_scheduler.sh start pbs|slurm SCRIPT   start a job as the scheduler would: a spooled copy of
#                                              SCRIPT run by bash (exec: this pid is the batch
#                                              shell), in another directory, with PBS_* / SLURM_*
#   fake_scheduler.sh start-next               start the oldest job that qsub, sbatch or
#                                              scontrol requeue left in the queue (exit 3: none)
#
# While a job runs, $FAKE_SCHED_DIR/bin is first on PATH and holds this script under the names
#   qsub, sbatch     record the submission (script path, -v / --export variables) in the queue
#   scontrol         `requeue ID` queues the job again (stored script and environment, as Slurm);
#                    anything else fails
#   qstat            `-f ID`: the job's walltime limit ($FAKE_PBS_WALLTIME, HH:MM:SS, if set when
#                    the job started) and the walltime it has used
#   mpiexec          PALS-like options (-n, --ppn, -d, --cpu-bind, --env) over the real MPICH
#   srun             Slurm-like options (--ntasks, --nodes, --ntasks-per-node, --cpus-per-task,
#                    --cpu-bind, --gpus-per-task, --gpu-bind, --mpi) over the real MPICH
# mpiexec and srun pass SIGTERM, SIGUSR1 or SIGINT they receive to every rank, as srun and PALS
# do (MPICH's own mpiexec, signalled itself, may not report its ranks' exit codes). They set the
# local-rank variables (PALS_LOCAL_RANKID, SLURM_LOCALID, ...). Unknown options fail, so that a
# job script's typo fails the test. Everything is logged to $FAKE_SCHED_DIR/events.log.
#
# Environment: FAKE_SCHED_DIR (state, required), FAKE_MPIEXEC (the real mpiexec, default
# mpiexec.mpich), FAKE_SLURM_NTASKS (default 2), FAKE_SLURM_CPUS_PER_TASK (default 1).
set -uo pipefail
SELF=$(readlink -f "${BASH_SOURCE[0]}")
: "${FAKE_SCHED_DIR:?set FAKE_SCHED_DIR to a state directory}"
FAKE_MPIEXEC=${FAKE_MPIEXEC:-mpiexec.mpich}
mkdir -p "$FAKE_SCHED_DIR"

log() { printf '%s\n' "$*" >> "$FAKE_SCHED_DIR/events.log"; }
die() { log "ERROR: $*"; echo "fake scheduler: $*" >&2; exit 2; }

new_id() {
  local f=$FAKE_SCHED_DIR/next_id n
  n=$(cat "$f" 2>/dev/null || echo 1000)
  echo $((n + 1)) > "$f"
  echo "$n"
}

# queue_job KIND SCRIPT ID RESTARTS VAR=VALUE...: a job file (sourced by start-next)
queue_job() {
  local kind=$1 script=$2 id=$3 restarts=$4 f
  shift 4
  mkdir -p "$FAKE_SCHED_DIR/queue"
  f=$FAKE_SCHED_DIR/queue/$(printf '%06d' "$(new_id)").job
  {
    printf 'job_kind=%q job_script=%q job_id=%q job_restarts=%q job_submit_dir=%q\n' \
      "$kind" "$script" "$id" "$restarts" "$PWD"
    local kv
    for kv in "$@"; do printf 'job_vars+=(%q)\n' "$kv"; done
  } > "$f"
}

# start_job KIND SCRIPT ID RESTARTS SUBMIT_DIR: becomes the batch shell.
start_job() {
  local kind=$1 script=$2 id=$3 restarts=$4 submit_dir=$5 spool
  mkdir -p "$FAKE_SCHED_DIR/bin" "$FAKE_SCHED_DIR/spool" "$FAKE_SCHED_DIR/home" "$FAKE_SCHED_DIR/jobs/$id"
  local name
  for name in qsub sbatch scontrol qstat mpiexec srun; do ln -sf "$SELF" "$FAKE_SCHED_DIR/bin/$name"; done
  export PATH=$FAKE_SCHED_DIR/bin:$PATH
  echo localhost > "$FAKE_SCHED_DIR/nodefile"
  if [ "$kind" = pbs ]; then
    spool=$FAKE_SCHED_DIR/spool/$id.SC
    cp "$script" "$spool"
    export PBS_JOBID=$id PBS_JOBNAME=${script##*/} PBS_O_WORKDIR=$submit_dir \
      PBS_NODEFILE=$FAKE_SCHED_DIR/nodefile PBS_ENVIRONMENT=PBS_BATCH
  else
    # Slurm keeps the script (and the environment) it was given at submission; a requeue reruns those.
    spool=$FAKE_SCHED_DIR/jobs/$id/slurm_script
    [ -e "$spool" ] || cp "$script" "$spool"
    export SLURM_JOB_ID=$id SLURM_JOBID=$id SLURM_SUBMIT_DIR=$submit_dir SLURM_JOB_NUM_NODES=1 \
      SLURM_NNODES=1 SLURM_JOB_NODELIST=localhost SLURM_NTASKS=${FAKE_SLURM_NTASKS:-2} \
      SLURM_CPUS_PER_TASK=${FAKE_SLURM_CPUS_PER_TASK:-1} SLURM_RESTART_COUNT=$restarts
    # What a requeue restores (Slurm keeps the submission's environment; the SCI_INFER_* part is
    # what matters here).
    if [ ! -e "$FAKE_SCHED_DIR/jobs/$id/environment" ]; then
      export -p | grep '^declare -x SCI_INFER_' > "$FAKE_SCHED_DIR/jobs/$id/environment"
      echo "$submit_dir" > "$FAKE_SCHED_DIR/jobs/$id/submit_dir"
    fi
    echo "$restarts" > "$FAKE_SCHED_DIR/jobs/$id/restarts"
  fi
  date +%s > "$FAKE_SCHED_DIR/jobs/$id/start_time"
  echo "${FAKE_PBS_WALLTIME:-}" > "$FAKE_SCHED_DIR/jobs/$id/walltime"
  log "start $kind job $id script=$script spool=$spool restarts=$restarts"
  cd "$FAKE_SCHED_DIR/home" || exit 1  # schedulers start jobs in $HOME, not where qsub ran
  exec bash "$spool"
}

# The real launcher, under a shim: passes signals to the ranks, exits with mpiexec's code.
run_ranks() {
  local what=$1 n=$2 rank_env=$3
  shift 3
  "$FAKE_MPIEXEC" -n "$n" "$SELF" rank-env "$rank_env" "$@" &
  local pid=$! rc got
  # shellcheck disable=SC2317  # called by the traps
  forward() {
    got=$1
    local ranks="" proxy
    for proxy in $(pgrep -P "$pid"); do ranks="$ranks $(pgrep -P "$proxy" | tr '\n' ' ')"; done
    log "$what got SIG$1: forwarded to ranks$ranks"
    # shellcheck disable=SC2086
    [ -n "${ranks// /}" ] && kill -"$1" $ranks 2>/dev/null
  }
  trap 'forward TERM' TERM
  trap 'forward USR1' USR1
  trap 'forward INT' INT
  while :; do got=""; wait "$pid"; rc=$?; [ -n "$got" ] || break; done
  log "$what exit $rc"
  exit "$rc"
}

fake_mpiexec() {
  local n=1 ppn="" args="$*"
  while [ $# -gt 0 ]; do
    case $1 in
      -n | -np | --np) n=$2; shift 2 ;;
      --ppn | -ppn) ppn=$2; shift 2 ;;
      -d | --depth | --cpu-bind) shift 2 ;;
      --depth=* | --cpu-bind=* | --envall) shift ;;
      --env) export "${2?}"; shift 2 ;;
      -*) die "mpiexec: unknown option $1" ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || die "mpiexec: no command"
  [ -z "$ppn" ] || [ "$n" -le "$ppn" ] || die "mpiexec: -n $n > --ppn $ppn on the fake's one node"
  log "mpiexec $args"
  run_ranks mpiexec "$n" pals "$@"
}

fake_srun() {
  local n=${SLURM_NTASKS:-1} c="" args="$*"
  while [ $# -gt 0 ]; do
    case $1 in
      -n | --ntasks) n=$2; shift 2 ;;
      --ntasks=*) n=${1#*=}; shift ;;
      -c | --cpus-per-task) c=$2; shift 2 ;;
      --cpus-per-task=*) c=${1#*=}; shift ;;
      -N | --nodes | --ntasks-per-node | --mpi | --cpu-bind | --gpus-per-task | --gpu-bind) shift 2 ;;
      --nodes=* | --ntasks-per-node=* | --mpi=* | --cpu-bind=* | --gpus-per-task=* | --gpu-bind=*) shift ;;
      -*) die "srun: unknown option $1" ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || die "srun: no command"
  # Since Slurm 22.05 srun does not take --cpus-per-task from the job: only -c or SRUN_CPUS_PER_TASK.
  c=${c:-${SRUN_CPUS_PER_TASK:-1}}
  log "srun $args (cpus per task: $c; SRUN_CPUS_PER_TASK=${SRUN_CPUS_PER_TASK-unset})"
  run_ranks srun "$n" slurm "$@"
}

fake_qsub() {
  local vars=() script args="$*"
  while [ $# -gt 1 ]; do
    case $1 in
      -v) # NAME=value,NAME='value,with,commas'
        local s=$2 kv="" q=0 i ch
        for ((i = 0; i < ${#s}; i++)); do
          ch=${s:i:1}
          if [ "$ch" = "'" ]; then q=$((1 - q))
          elif [ "$ch" = , ] && [ $q = 0 ]; then vars+=("$kv"); kv=""
          else kv+=$ch; fi
        done
        [ -n "$kv" ] && vars+=("$kv")
        shift 2 ;;
      -W | -N | -A | -q | -l) shift 2 ;;
      -*) die "qsub: unknown option $1" ;;
      *) break ;;
    esac
  done
  script=$1
  [ -r "$script" ] || die "qsub: $script: no such file"
  local id
  id=$(new_id).fake-pbs
  queue_job pbs "$script" "$id" 0 "${vars[@]}"
  log "qsub $args"
  echo "$id"
}

fake_sbatch() {
  local vars=() script args="$*"
  while [ $# -gt 1 ]; do
    case $1 in
      --export=*)
        local e=${1#*=} name extra=()
        # ALL: the submitter's environment too (here, its SCI_INFER_* part), then the listed ones.
        if [ "${e%%,*}" = ALL ]; then
          for name in $(compgen -e | grep '^SCI_INFER_'); do vars+=("$name=${!name}"); done
          e=${e#ALL}; e=${e#,}
        fi
        IFS=, read -r -a extra <<< "$e"
        vars+=("${extra[@]}")
        shift ;;
      --parsable | --dependency=* | --requeue) shift ;;
      -*) die "sbatch: unknown option $1" ;;
      *) break ;;
    esac
  done
  script=$1
  [ -r "$script" ] || die "sbatch: $script: no such file"
  local id
  id=$(new_id)
  queue_job slurm "$script" "$id" 0 "${vars[@]}"
  log "sbatch $args"
  echo "$id"
}

fake_scontrol() {
  if [ "${1:-}" != requeue ] || [ -z "${2:-}" ]; then
    log "scontrol $* (unsupported)"
    echo "scontrol: unsupported here" >&2
    exit 1
  fi
  [ -r "$FAKE_SCHED_DIR/jobs/$2/restarts" ] || die "scontrol requeue: no job $2"
  local restarts=$(( $(cat "$FAKE_SCHED_DIR/jobs/$2/restarts") + 1 ))
  queue_job slurm-requeue "$FAKE_SCHED_DIR/jobs/$2/slurm_script" "$2" "$restarts"
  log "scontrol requeue $2"
}

fake_qstat() {
  if [ "${1:-}" != -f ] || [ ! -r "$FAKE_SCHED_DIR/jobs/${2:-}/start_time" ]; then die "qstat: only qstat -f JOBID"; fi
  local used limit
  used=$(( $(date +%s) - $(cat "$FAKE_SCHED_DIR/jobs/$2/start_time") ))
  limit=$(cat "$FAKE_SCHED_DIR/jobs/$2/walltime")
  log "qstat -f $2"
  echo "Job Id: $2"
  [ -n "$limit" ] && echo "    Resource_List.walltime = $limit"
  printf '    resources_used.walltime = %02d:%02d:%02d\n' $((used / 3600)) $((used / 60 % 60)) $((used % 60))
}

start_next() {
  local f
  f=$(find "$FAKE_SCHED_DIR/queue" -name '*.job' 2>/dev/null | sort | head -1)
  [ -n "$f" ] || { echo "fake scheduler: the queue is empty" >&2; exit 3; }
  local job_kind job_script job_id job_restarts job_submit_dir job_vars=()
  # shellcheck disable=SC1090
  source "$f"
  mkdir -p "$FAKE_SCHED_DIR/done"
  mv "$f" "$FAKE_SCHED_DIR/done/"
  # A new job sees none of the test's variables: only what the submission passed on.
  local name
  for name in $(compgen -e | grep '^SCI_INFER_'); do unset "$name"; done
  if [ "$job_kind" = slurm-requeue ]; then
    local line
    while IFS= read -r line; do eval "export ${line#declare -x }"; done < "$FAKE_SCHED_DIR/jobs/$job_id/environment"
    start_job slurm "$job_script" "$job_id" "$job_restarts" "$(cat "$FAKE_SCHED_DIR/jobs/$job_id/submit_dir")"
  fi
  local kv
  for kv in "${job_vars[@]}"; do export "${kv?}"; done
  start_job "$job_kind" "$job_script" "$job_id" "$job_restarts" "$job_submit_dir"
}

case $(basename "$0") in
  qsub) fake_qsub "$@" ;;
  sbatch) fake_sbatch "$@" ;;
  scontrol) fake_scontrol "$@" ;;
  qstat) fake_qstat "$@" ;;
  mpiexec) fake_mpiexec "$@" ;;
  srun) fake_srun "$@" ;;
  *)
    case ${1:-} in
      start)
        if [ $# != 3 ] || { [ "$2" != pbs ] && [ "$2" != slurm ]; }; then die "usage: $0 start pbs|slurm SCRIPT"; fi
        id=$(new_id)
        [ "$2" = pbs ] && id=$id.fake-pbs
        start_job "$2" "$(readlink -f "$3")" "$id" 0 "$PWD" ;;
      start-next) start_next ;;
      rank-env)
        # One rank: the scheduler's local-rank variables, from MPICH's.
        if [ "$2" = pals ]; then export PALS_RANKID=$PMI_RANK PALS_LOCAL_RANKID=$MPI_LOCALRANKID
        else export SLURM_PROCID=$PMI_RANK SLURM_LOCALID=$MPI_LOCALRANKID; fi
        shift 2
        exec "$@" ;;
      *) die "usage: $0 start pbs|slurm SCRIPT | start-next" ;;
    esac ;;
esac
