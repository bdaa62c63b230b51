package keystore

import (
	"os"
	"os/user"
	"path/filepath"
	"runtime"
)

// noSessionBus says why the Secret Service cannot be reached on this
// system without starting a D-Bus session, or is "" when there may be a
// session bus (and on macOS and Windows, which use no D-Bus).
//
// With no session bus, godbus (under go-keyring) runs dbus-launch, which
// leaves a bus daemon and a keyring daemon behind for every command, around
// a keyring that is locked anyway: the keys of the desktop session are not
// in it. This checks what godbus checks before it does so.
func noSessionBus() string {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return ""
	}
	uid := ""
	if u, err := user.Current(); err == nil {
		uid = u.Uid
	}
	return sessionBusMissing(os.Getenv, uid, func(p string) bool { _, err := os.Stat(p); return err == nil })
}

func sessionBusMissing(getenv func(string) string, uid string, exists func(string) bool) string {
	if a := getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return ""
	}
	if uid != "" {
		dir := filepath.Join("/run/user", uid)
		if exists(filepath.Join(dir, "bus")) || exists(filepath.Join(dir, "dbus-session")) {
			return ""
		}
	}
	return "there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and /run/user/" + uid +
		"/bus does not exist), so no Secret Service to keep the keys: are you outside a desktop session, such as over SSH?"
}
