# shellcheck shell=bash disable=SC2034  # SIJ_* variables are read by the job scripts
# sci_infer_job_lib.sh: what every sci-infer batch job needs, whatever the scheduler.
# Sourced (never run) by aurora.pbs, polaris.pbs and dgx.sbatch; keep it next to them.
#
#   sij_init                  scheduler, job id, node count; checks that the job can resubmit itself
#   sij_stage_model MODEL     copy the model once per node to node-local storage; sets SIJ_MODEL
#   sij_resume_args OUTPUT    prints --resume when the output (or its journal) already exists
#   sij_run CMD...            runs the launcher in the background, forwards TERM/USR1/INT to it, waits
#   sij_finish RC OUTPUT      acts on the exit code: done, records failed, resubmit, or fail (exits)
#
# Why the launcher runs in the background: a shell waiting in a foreground command runs no trap
# until that command ends, and Slurm's --signal=B:... (like a kill of the batch shell) reaches
# the shell alone. Without the trap the shell dies on SIGTERM, the launcher is never told to
# commit, and nothing resubmits the job.
#
# Settings (environment; the job scripts give defaults). Every exported SCI_INFER_* variable is
# passed on to the resubmitted job, so `qsub -v SCI_INFER_OUTPUT=...` keeps working after a
# resubmission; values set inside the script are not forwarded (an edit of the script applies).
#   SCI_INFER_JOB_SCRIPT      the user's own job script (PBS and Slurm run a spooled copy: $0 is NOT it)
#   SCI_INFER_RESUBMITS       how many times this job was resubmitted already (set by the resubmission)
#   SCI_INFER_MAX_RESUBMITS   stop resubmitting after this many (default 10): no endless loop on a
#                             job that is interrupted before it can make progress
#   SCI_INFER_STAGE_DIR       node-local directory for the model copy; "none": read the model in place
#   SCI_INFER_STOP_MARGIN_S   PBS: stop this many seconds before the walltime ends (default 300)
#   SCI_INFER_STOP_GRACE_S    after forwarding the stop, wait this long (default 90) for the
#                             launcher to commit and exit; then kill it and resubmit anyway (the
#                             results committed so far are kept), before the scheduler's own kill
#                             takes the batch shell too and nothing is resubmitted
#   SCI_INFER_RESUBMIT        Slurm: requeue (default; needs #SBATCH --requeue) or sbatch

sij_log() { printf '[sci-infer-job %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# The exit codes of sci-infer (apps/launcher/exit_codes.hpp; docs/exit-codes.md).
SIJ_EXIT_OK=0 SIJ_EXIT_REFUSED=2 SIJ_EXIT_HUNG=3 SIJ_EXIT_RECORDS_FAILED=4 SIJ_EXIT_RUN_FAILED=5
SIJ_EXIT_INTERRUPTED=75

sij_init() {
  if [ -n "${PBS_JOBID:-}" ]; then
    SIJ_SCHED=pbs SIJ_JOB_ID=$PBS_JOBID
    SIJ_NNODES=$(sort -u "$PBS_NODEFILE" | wc -l)
  elif [ -n "${SLURM_JOB_ID:-}" ]; then
    SIJ_SCHED=slurm SIJ_JOB_ID=$SLURM_JOB_ID
    SIJ_NNODES=${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}
  else
    SIJ_SCHED=none SIJ_JOB_ID=interactive SIJ_NNODES=1
  fi
  # A signal before the launcher starts (during staging, say) stops the job before it starts
  # work, and it is resubmitted like an interrupted one.
  SIJ_EARLY_STOP=""
  trap 'SIJ_EARLY_STOP=TERM' TERM
  trap 'SIJ_EARLY_STOP=USR1' USR1
  trap 'SIJ_EARLY_STOP=INT' INT
  SIJ_RESUBMITS=${SCI_INFER_RESUBMITS:-0}
  # Slurm counts requeues itself (also the ones its preemption does).
  [ "${SLURM_RESTART_COUNT:-0}" -gt "$SIJ_RESUBMITS" ] && SIJ_RESUBMITS=$SLURM_RESTART_COUNT
  sij_log "job $SIJ_JOB_ID ($SIJ_SCHED): $SIJ_NNODES node(s), resubmission $SIJ_RESUBMITS of at most ${SCI_INFER_MAX_RESUBMITS:-10}"
  # Check now, not after hours of work, that the job will be able to resubmit itself.
  if [ "$SIJ_SCHED" != none ] && [ ! -r "${SCI_INFER_JOB_SCRIPT:-}" ]; then
    sij_log "WARNING: SCI_INFER_JOB_SCRIPT='${SCI_INFER_JOB_SCRIPT:-}' is not a readable file: if this job is"
    sij_log "WARNING: interrupted it cannot resubmit itself. Set it to this script's path (not \$0)."
  fi
  case "${SCI_INFER_DEVICE:-cpu}" in
    cpu) ;;
    gpu) sij_log "SCI_INFER_DEVICE=gpu: each rank is bound to one GPU (or tile), but sci-infer has no GPU"
         sij_log "engine yet (no --device option): the ranks still compute on the CPU cores." ;;
    *) sij_log "SCI_INFER_DEVICE must be cpu or gpu, not '${SCI_INFER_DEVICE}'"; exit $SIJ_EXIT_REFUSED ;;
  esac
}

# Prints --resume when OUTPUT or its journal exists: the first run creates them, and every later
# run (resubmission, or a rerun after exit 5) continues that job; sci-infer refuses a changed job.
sij_resume_args() {
  if [ -e "$1" ] || [ -d "$1.journal" ]; then echo --resume; fi
}

# Copies MODEL once per node to $SCI_INFER_STAGE_DIR/sci_infer_$USER/ (node-local disk or memory),
# so that every rank maps a local file instead of all ranks paging the model from the parallel
# filesystem. The path is the same on every node and in every resubmission of the job. A copy that
# is already there with the same size and modification time is kept. Sets SIJ_MODEL.
sij_stage_model() {
  local src=$1 dir=${SCI_INFER_STAGE_DIR:-none}
  SIJ_MODEL=$src
  [ "$dir" = none ] && return 0
  local dst
  dst="$dir/sci_infer_${USER:-$(id -un)}/$(basename "$src")"
  # One copy per node: to a temporary name, then renamed, so that a copy cut short is never used.
  # shellcheck disable=SC2016  # expanded by the per-node shell
  local copy='mkdir -p "$(dirname "$2")" &&
    { [ "$(stat -c %s.%Y "$1")" = "$(stat -c %s.%Y "$2" 2>/dev/null)" ] ||
      { cp -p "$1" "$2.part.$$" && mv -f "$2.part.$$" "$2"; }; }'
  local t0=$SECONDS ok=1
  case $SIJ_SCHED in
    pbs) mpiexec -n "$SIJ_NNODES" --ppn 1 sh -c "$copy" sh "$src" "$dst" || ok=0 ;;
    slurm)
      # sbcast reads the file once and fans it out over the job's nodes; srun cp reads it per node.
      if command -v sbcast >/dev/null; then
        srun --nodes="$SIJ_NNODES" --ntasks="$SIJ_NNODES" --ntasks-per-node=1 mkdir -p "$(dirname "$dst")" &&
          sbcast --force --preserve "$src" "$dst" || ok=0
      else
        srun --nodes="$SIJ_NNODES" --ntasks="$SIJ_NNODES" --ntasks-per-node=1 sh -c "$copy" sh "$src" "$dst" || ok=0
      fi ;;
    none) sh -c "$copy" sh "$src" "$dst" || ok=0 ;;
  esac
  if [ $ok = 1 ]; then
    SIJ_MODEL=$dst
    sij_log "model staged to $dst on $SIJ_NNODES node(s) in $((SECONDS - t0)) s"
  else
    sij_log "WARNING: staging $src to $dst failed: reading the model from $src"
  fi
}

# Runs CMD (the launcher: mpiexec/srun ... sci-infer run ...) in the background and waits for it.
# TERM, USR1 or INT to this shell (the scheduler's warning) is forwarded to CMD as SIGTERM: srun
# and PALS mpiexec pass it to every rank, each rank commits its results and exits 75. `wait`
# returns as soon as a trapped signal arrives, so it is called again until CMD itself has ended.
# Sets SIJ_RC to CMD's exit code (75 when it had to be killed after SCI_INFER_STOP_GRACE_S).
sij_run() {
  if [ -n "$SIJ_EARLY_STOP" ]; then
    sij_log "got SIG$SIJ_EARLY_STOP before the launcher started: not starting it"
    SIJ_RC=$SIJ_EXIT_INTERRUPTED
    return
  fi
  SIJ_KILLED_MARK=${TMPDIR:-/tmp}/sci_infer_job.$$.killed SIJ_GRACE_PID=""
  rm -f "$SIJ_KILLED_MARK"
  "$@" &
  SIJ_PID=$!
  trap 'sij_forward TERM' TERM
  trap 'sij_forward USR1' USR1
  trap 'sij_forward INT' INT
  sij_start_stop_timer
  while :; do
    SIJ_TRAPPED=""
    wait "$SIJ_PID"
    SIJ_RC=$?
    [ -n "$SIJ_TRAPPED" ] || break
  done
  trap - TERM USR1 INT
  [ -n "$SIJ_TIMER_PID" ] && kill "$SIJ_TIMER_PID" 2>/dev/null
  [ -n "$SIJ_GRACE_PID" ] && kill "$SIJ_GRACE_PID" 2>/dev/null
  sij_log "launcher exited with $SIJ_RC"
  if [ -e "$SIJ_KILLED_MARK" ]; then
    rm -f "$SIJ_KILLED_MARK"
    sij_log "it was killed after the grace time: the results committed before are kept (treated as 75)"
    SIJ_RC=$SIJ_EXIT_INTERRUPTED
  fi
}

sij_forward() {
  SIJ_TRAPPED=$1
  sij_log "got SIG$1: forwarding SIGTERM to the launcher (pid $SIJ_PID); waiting for it to commit"
  kill -TERM "$SIJ_PID" 2>/dev/null
  if [ -z "$SIJ_GRACE_PID" ]; then
    local grace=${SCI_INFER_STOP_GRACE_S:-90}
    sij_after "$grace" sij_kill_launcher "$grace"
    SIJ_GRACE_PID=$SIJ_AFTER_PID
  fi
}

# Kills the launcher and every process it started here (srun and PALS mpiexec end the ranks on
# other nodes when they die).
sij_kill_launcher() {
  sij_log "the launcher did not stop within $1 s: killing it (SCI_INFER_STOP_GRACE_S)"
  : > "$SIJ_KILLED_MARK"
  local pids=$SIJ_PID p new
  new=$SIJ_PID
  while [ -n "$new" ]; do
    # shellcheck disable=SC2086
    new=$(for p in $new; do pgrep -P "$p"; done)
    pids="$pids $new"
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null
}

# sij_after SECONDS CMD...: runs CMD after SECONDS in the background; SIJ_AFTER_PID cancels it
# (kill), the sleeper included, so that no stray process holds the job's output open.
sij_after() {
  local seconds=$1
  shift
  ( trap 'kill $sp 2>/dev/null; exit 0' TERM; sleep "$seconds" & sp=$!; wait $sp && "$@" ) &
  SIJ_AFTER_PID=$!
}

# PBS has no warning signal before the walltime ends (Slurm has --signal): stop the launcher
# SCI_INFER_STOP_MARGIN_S seconds before it, from qstat's walltime, so it commits and resubmits.
sij_start_stop_timer() {
  SIJ_TIMER_PID=""
  [ "$SIJ_SCHED" = pbs ] && command -v qstat >/dev/null || return 0
  local left margin=${SCI_INFER_STOP_MARGIN_S:-300}
  left=$(qstat -f "$PBS_JOBID" 2>/dev/null | awk -F' = ' '
    function s(t, a) { split(t, a, ":"); return a[1] * 3600 + a[2] * 60 + a[3] }
    /Resource_List.walltime/ { l = s($2) } /resources_used.walltime/ { u = s($2) }
    END { if (l) print l - u }')
  [ -n "$left" ] || return 0
  local after=$((left - margin)); [ $after -lt 0 ] && after=0
  sij_log "walltime left ${left} s: stopping the launcher in ${after} s (SCI_INFER_STOP_MARGIN_S=$margin)"
  sij_after "$after" kill -USR1 $$
  SIJ_TIMER_PID=$SIJ_AFTER_PID
}

# Acts on the launcher's exit code, and exits the job with it.
sij_finish() {
  local rc=$1 out=$2
  if [ "$rc" = 0 ] && [ -d "$out.journal" ]; then
    # sci-infer removes the journal when every record is done. MPICH's hydra mpiexec, when it
    # is signalled itself, can report 0 whatever its ranks returned.
    sij_log "the launcher returned 0 but $out.journal remains: the job is unfinished (treated as 75)"
    rc=$SIJ_EXIT_INTERRUPTED
  fi
  case $rc in
    "$SIJ_EXIT_OK") sij_log "done: every record succeeded: $out" ;;
    "$SIJ_EXIT_RECORDS_FAILED")
      sij_log "complete, but some records failed (exit 4): /results/status is non-zero for them and"
      sij_log "/results/error says why, in $out. Not resubmitted: a rerun would fail them again." ;;
    "$SIJ_EXIT_INTERRUPTED") sij_resubmit ;;
    "$SIJ_EXIT_RUN_FAILED")
      sij_log "the run failed part-way (exit 5; message above). Committed results are kept: fix the"
      sij_log "cause and submit this script again, it resumes. Not resubmitted automatically." ;;
    "$SIJ_EXIT_REFUSED") sij_log "sci-infer refused the job (exit 2; message above): nothing was written" ;;
    "$SIJ_EXIT_HUNG")
      sij_log "a rank made no progress (exit 3: dead or hung node?). Committed results are kept;"
      sij_log "submit this script again to resume. Not resubmitted automatically." ;;
    *) sij_log "the launcher failed with exit code $rc (see above). Not resubmitted." ;;
  esac
  exit "$rc"
}

# Submits the user's own script again (PBS, Slurm sbatch) or requeues this job (Slurm), at most
# SCI_INFER_MAX_RESUBMITS times.
sij_resubmit() {
  local next=$((SIJ_RESUBMITS + 1)) max=${SCI_INFER_MAX_RESUBMITS:-10} script=${SCI_INFER_JOB_SCRIPT:-}
  local by_hand="submit $script again: it resumes with --resume"
  if [ "$SIJ_SCHED" = none ]; then sij_log "interrupted (exit 75): run this script again to resume"; return; fi
  if [ "$next" -gt "$max" ]; then
    sij_log "interrupted (exit 75) after $SIJ_RESUBMITS resubmissions (SCI_INFER_MAX_RESUBMITS=$max): not"
    sij_log "resubmitting again. Check the progress lines of the earlier jobs, then $by_hand."
    return
  fi
  if [ "$SIJ_SCHED" = slurm ] && [ "${SCI_INFER_RESUBMIT:-requeue}" = requeue ]; then
    # Same job id, same stored script and environment; Slurm sets SLURM_RESTART_COUNT.
    if scontrol requeue "$SLURM_JOB_ID"; then
      sij_log "interrupted (exit 75): requeued job $SLURM_JOB_ID (restart $next of at most $max)"
      return
    fi
    sij_log "scontrol requeue failed (no #SBATCH --requeue, or the site forbids it): using sbatch"
  fi
  if [ ! -r "$script" ]; then
    sij_log "interrupted (exit 75), but SCI_INFER_JOB_SCRIPT='$script' is not readable: $by_hand"
    return
  fi
  local id
  if [ "$SIJ_SCHED" = pbs ]; then
    # afterany: the new job starts only once this one has ended, so two jobs never share the output.
    id=$(qsub -W "depend=afterany:$PBS_JOBID" -v "$(sij_pbs_vars "$next")" "$script") || id=""
  else
    id=$(sbatch --parsable --dependency="afterany:$SLURM_JOB_ID" \
           --export="ALL,SCI_INFER_RESUBMITS=$next,SCI_INFER_JOB_SCRIPT=$script" "$script") || id=""
  fi
  if [ -n "$id" ]; then
    sij_log "interrupted (exit 75): resubmitted $script as job $id (resubmission $next of at most $max)"
  else
    sij_log "interrupted (exit 75), and the resubmission of $script failed: $by_hand"
  fi
}

# The -v list for qsub: the resubmission counter, the script path, and every exported
# SCI_INFER_* variable. PBS splits -v at commas, so a value holding one is single-quoted.
sij_pbs_vars() {
  local list="" name value
  for name in SCI_INFER_RESUBMITS SCI_INFER_JOB_SCRIPT $(compgen -e | grep '^SCI_INFER_'); do
    case ",$list" in *",$name="*) continue ;; esac
    if [ "$name" = SCI_INFER_RESUBMITS ]; then value=$1; else value=${!name-}; fi
    case $value in
      *\'*,* | *,*\'*) sij_log >&2 "WARNING: $name holds both ' and ,: not passed on (set it in the script)"; continue ;;
      *,*) value="'$value'" ;;
    esac
    list="$list${list:+,}$name=$value"
  done
  printf '%s' "$list"
}
