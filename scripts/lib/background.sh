# Builds that a later step of a run needs, started early and run beside the steps in front of
# them on the CPU those steps leave. Sourced by scripts/test.sh and .ci/run.
#
#   background_start NAME LOG COMMAND...   start COMMAND in a low-priority CPU group; false if
#                                          no such group can be made here (then do not start it:
#                                          the later step builds for itself, as it always can)
#   background_promote NAME                the group's CPU share back to normal
#   background_finish NAME                 promote, wait; print its timing, or the end of LOG
#                                          and false if COMMAND failed
#   background_stop_all                    kill what is still running (for an EXIT trap)
#
# Why a CPU group and not nice: SwiftPM starts every compiler process at the default priority,
# whatever the priority of `swift build` itself, so a niced build competed with the foreground
# one as an equal (the debug build took 11 minutes instead of 5). A cgroup's share holds for
# everything started inside it. Low while the tests that assert real time run, normal after:
# under a machine kept busy by others, a low share would starve the build that the run then waits
# for. Needs root and the cgroup cpu controller (v1 `cpu.shares` or v2 `cpu.weight`).

declare -A background_pids=() background_logs=() background_groups=()

background_group_dir() {
  local name=redash-autoscaler-$1-$$
  if [[ -w /sys/fs/cgroup/cpu/cgroup.procs && -w /sys/fs/cgroup/cpu ]]; then
    echo "/sys/fs/cgroup/cpu/$name"
  elif [[ -f /sys/fs/cgroup/cgroup.controllers && -w /sys/fs/cgroup ]] \
    && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
    echo "/sys/fs/cgroup/$name"
  else
    return 1
  fi
}

background_share() { # GROUP low|normal
  local group=$1 level=$2
  if [[ -f $group/cpu.shares ]]; then
    [[ $level == low ]] && echo 2 >"$group/cpu.shares" || echo 1024 >"$group/cpu.shares"
  else
    [[ $level == low ]] && echo 1 >"$group/cpu.weight" || echo 100 >"$group/cpu.weight"
  fi
}

background_start() {
  local name=$1 log=$2
  shift 2
  local group stale
  group=$(background_group_dir "$name") || return 1
  # Groups an interrupted run left behind go once empty (rmdir removes only empty ones).
  for stale in "${group%/*}"/redash-autoscaler-*; do rmdir "$stale" 2>/dev/null || true; done
  mkdir -p "$group" 2>/dev/null && background_share "$group" low 2>/dev/null || { rmdir "$group" 2>/dev/null; return 1; }
  # A process group of its own (setsid), so that background_stop_all ends the whole build; it
  # joins the CPU group before it starts the command.
  setsid bash -c 'group=$1; shift; echo $$ >"$group/cgroup.procs" || exit 97; started=$SECONDS
    "$@" && echo "timing: $0 beside the foreground took $((SECONDS - started)) s"' "$name" "$group" "$@" >"$log" 2>&1 &
  background_pids[$name]=$!
  background_logs[$name]=$log
  background_groups[$name]=$group
}

background_promote() {
  local group=${background_groups[$1]:-}
  [[ -n $group && -d $group ]] && background_share "$group" normal
  return 0
}

background_finish() {
  local name=$1 status=0
  background_promote "$name"
  wait "${background_pids[$name]}" || status=$?
  unset "background_pids[$name]"
  # Its timing line when it succeeded; the end of its output when it did not.
  if ((status == 0)); then grep '^timing:' "${background_logs[$name]}" || true; else tail -40 "${background_logs[$name]}"; fi
  rm -f "${background_logs[$name]}"
  rmdir "${background_groups[$name]}" 2>/dev/null || true
  return "$status"
}

background_stop_all() {
  local name attempt
  for name in "${!background_pids[@]}"; do
    kill -- -"${background_pids[$name]}" 2>/dev/null || true
    wait "${background_pids[$name]}" 2>/dev/null || true
    # The compilers it started may take a moment to exit; a group is removed once empty.
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
      rmdir "${background_groups[$name]}" 2>/dev/null && break
      sleep 0.5
    done
  done
}
