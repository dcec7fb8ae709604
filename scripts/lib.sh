# shellcheck shell=bash
# Shared shell helpers for scripts/* and .ci/run. Source it; it defines functions only
# (plus SLUICE_REPO), it does not change shell options.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SLUICE_REPO="${SLUICE_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

# log MSG... : a line on stderr, prefixed with the calling script's name.
log() { printf '[%s] %s\n' "${SLUICE_LOG_TAG:-$(basename "$0")}" "$*" >&2; }

# die MSG... : log and exit 1.
die() { log "ERROR: $*"; exit 1; }

# now_ms : milliseconds since the epoch.
now_ms() { date +%s%3N; }

# port_open HOST PORT : true when something accepts TCP connections there.
port_open() {
  # shellcheck disable=SC2016  # $1/$2 expand in the child bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# pid_alive PID [PATTERN] : true when PID runs and, if given, its command line contains
# PATTERN (guards against a recycled pid from a stale pid file).
pid_alive() {
  local pid="$1" pattern="${2:-}" state cmd
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # A zombie has exited; it only waits for its parent (this shell, for what `up` started).
  state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)"
  [[ "$state" != Z ]] || return 1
  [[ -z "$pattern" ]] && return 0
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
  # Empty for a moment while the process execs (setsid, then nohup, then the server).
  [[ -n "$cmd" ]] || return 0
  grep -qF -- "$pattern" <<<"$cmd"
}

# read_pid FILE : the pid stored in FILE, or nothing.
read_pid() { if [[ -f "$1" ]]; then tr -dc '0-9' <"$1"; fi; }

# stop_pid PID NAME [TIMEOUT_S] : SIGTERM, wait up to TIMEOUT_S (default 60), then
# SIGKILL and wait again. Returns once the process is gone.
stop_pid() {
  local pid="$1" name="$2" timeout_s="${3:-60}" waited=0
  kill -TERM "$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null; do
    if (( waited >= timeout_s * 10 )); then
      log "$name (pid $pid) did not stop within ${timeout_s}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      waited=0
      while kill -0 "$pid" 2>/dev/null && (( waited < 100 )); do sleep 0.1; waited=$((waited + 1)); done
      return 0
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# rust_path : puts rustup's usual home on PATH, for shells that have not sourced
# ~/.cargo/env.
rust_path() {
  if [[ -x "$HOME/.cargo/bin/rustup" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# apt_install PKG... : install the Debian packages that are not installed yet (root only).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  (( ${#missing[@]} == 0 )) && return 0
  if [[ "$(id -u)" != 0 ]]; then
    die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  fi
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local out
  if [[ -z "${SLUICE_APT_UPDATED:-}" ]]; then
    out="$(apt-get update -qq 2>&1)" || { printf '%s\n' "$out" >&2; die "apt-get update failed"; }
    SLUICE_APT_UPDATED=1
  fi
  out="$(apt-get install -y -qq --no-install-recommends "${missing[@]}" 2>&1)" \
    || { printf '%s\n' "$out" | tail -n 30 >&2; die "apt-get install ${missing[*]} failed"; }
}
