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
trap 'rm -rf "$home"' EXIT
export HOME=$home XDG_DATA_HOME=$home/.local/share XDG_CONFIG_HOME=$home/.config XDG_CACHE_HOME=$home/.cache XDG_RUNTIME_DIR=$home/run
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export AXIOM_TEST_KEYCHAIN=1
exec dbus-run-session -- bash -c 'echo -n test | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 && exec "$@"' with-keychain "$@"
