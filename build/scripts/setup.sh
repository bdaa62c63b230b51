#!/usr/bin/env bash
# Installs what `make run` / `make test` need and is missing, on Debian or
# Ubuntu. Elsewhere, or without root or sudo, it prints exactly what to
# install and exits non-zero.
#
#   setup.sh run    desktop build: gtk3 + webkit2gtk dev packages, pkg-config,
#                   the wails CLI v2.16.0, the frontend's npm packages
#   setup.sh test   all of the above plus Xvfb, ImageMagick, gnome-keyring,
#                   dbus, libsecret-tools and Chromium for the tests, and the
#                   Azurite blob emulator (build/azurite) for app/sync/azure
set -euo pipefail

mode=${1:-run}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
WAILS_VERSION=v2.16.0
NODE_MIN=20.19.0

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# --- Go and Node: toolchains are the user's to install --------------------
command -v go >/dev/null || die "Go is missing: install Go 1.26 or newer from https://go.dev/dl/ and re-run."
command -v node >/dev/null && command -v npm >/dev/null ||
	die "Node.js is missing: install Node.js $NODE_MIN or newer (with npm) and re-run."
node_ok=$(node -e "const [a,b,c]=process.versions.node.split('.').map(Number);const [x,y,z]='$NODE_MIN'.split('.').map(Number);console.log(a>x||(a==x&&(b>y||(b==y&&c>=z)))?1:0)")
[ "$node_ok" = 1 ] || die "Node.js $(node --version) is too old: install $NODE_MIN or newer and re-run."

# --- Debian packages --------------------------------------------------------
webkit_pkg=libwebkit2gtk-4.0-dev
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

if command -v dpkg-query >/dev/null; then
	# Ubuntu 24.04 and later ship only webkit2gtk 4.1; build.sh then adds
	# the webkit2_41 build tag.
	if ! have_pkg libwebkit2gtk-4.0-dev && ! have_pkg libwebkit2gtk-4.1-dev; then
		if apt-cache show libwebkit2gtk-4.0-dev >/dev/null 2>&1; then webkit_pkg=libwebkit2gtk-4.0-dev
		elif apt-cache show libwebkit2gtk-4.1-dev >/dev/null 2>&1; then webkit_pkg=libwebkit2gtk-4.1-dev
		fi
		need+=("$webkit_pkg")
	fi
	pkgs=(libgtk-3-dev pkg-config)
	if [ "$mode" = test ]; then
		pkgs+=(xvfb xauth imagemagick gnome-keyring dbus dbus-x11 libsecret-tools chromium poppler-utils)
	fi
	for p in "${pkgs[@]}"; do have_pkg "$p" || need+=("$p"); done
else
	die "this is not Debian or Ubuntu. Install: GTK 3 and WebKitGTK development files, pkg-config$([ "$mode" = test ] && echo ', Xvfb, ImageMagick, gnome-keyring, dbus, libsecret tools, Chromium'); then run 'make build' (see README)."
fi

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ]; then sudo=()
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n)
	else die "missing packages and no root or passwordless sudo: run 'sudo apt-get install -y ${need[*]}' and re-run."
	fi
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- the wails CLI ----------------------------------------------------------
gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if ! "$gobin/wails" version 2>/dev/null | grep -q "$WAILS_VERSION"; then
	say "installing the wails CLI $WAILS_VERSION"
	go install "github.com/wailsapp/wails/v2/cmd/wails@$WAILS_VERSION"
fi

# --- the frontend's npm packages -------------------------------------------
cd "$top/frontend"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	say "installing the frontend's npm packages (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
fi

# --- the Azurite blob emulator (tests of app/sync/azure) -------------------
# Its own package.json, pinned to 3.35.0: later releases need Node 22.
if [ "$mode" = test ]; then
	cd "$top/build/azurite"
	if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		say "installing the Azurite blob emulator (npm ci in build/azurite)"
		npm ci --no-audit --no-fund --loglevel=error
	fi
fi
