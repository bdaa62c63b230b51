#!/usr/bin/env bash
# Runs a command against a throwaway OS keychain: a private D-Bus session with
# gnome-keyring's Secret Service, unlocked, and a fresh HOME, so that tests
# use the real keychain without touching the user's.
#   with-keychain.sh CMD [ARGS...]
set -euo pipefail
# Keep Go's and npm's caches when HOME moves, or every run rebuilds.
export GOCACHE=${GOCACHE:-$(go env GOCACHE)} GOMODCACHE=${GOMODCACHE:-$(go env GOMODCACHE)} GOPATH=${GOPATH:-$(go env GOPATH)}
export npm_config_cache=${npm_config_cache:-$HOME/.npm}
home=$(mktemp -d "${TMPDIR:-/tmp}/axiom-audit-home.XXXXXX")
# Removed on any exit, keeping the command's status: the command runs as a
# child (not exec'd), so the trap is still there when it ends, also when
# interrupted. gnome-keyring-daemon may still be writing its keyring for a
# moment after the session bus closes, hence the retries.
cleanup() {
  local rc=$?
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    rm -rf "$home" 2>/dev/null && break
    sleep 0.2
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
export HOME=$home XDG_DATA_HOME=$home/.local/share XDG_CONFIG_HOME=$home/.config XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export AXIOM_TEST_KEYCHAIN=1
dbus-run-session -- bash -c 'echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 && exec "$@"' with-keychain "$@"
