package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/adrg/xdg"
)

// DefaultProfile is the profile used when --profile is not given.
const DefaultProfile = "default"

var profileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Paths says where one profile keeps its files (DESIGN.md §8).
type Paths struct {
	Profile   string `json:"profile"`
	DataDir   string `json:"dataDir"`   // the Badger directory lives here
	ConfigDir string `json:"configDir"` // settings, nothing sensitive

	explicit bool // DataDir came from --data-dir
}

// ResolvePaths returns the locations of a profile: under the XDG data and
// config homes (AppData on Windows, ~/Library on macOS) unless dataDir
// overrides the data location.
func ResolvePaths(profile, dataDir string) (Paths, error) {
	if profile == "" {
		profile = DefaultProfile
	}
	if !profileName.MatchString(profile) {
		return Paths{}, fmt.Errorf("--profile %q: must be 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit", profile)
	}
	p := Paths{
		Profile:   profile,
		DataDir:   filepath.Join(xdg.DataHome, "axiom-audit", profile),
		ConfigDir: filepath.Join(xdg.ConfigHome, "axiom-audit", profile),
	}
	if dataDir != "" {
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return Paths{}, fmt.Errorf("--data-dir %q: %w", dataDir, err)
		}
		p.DataDir = abs
		p.explicit = true
		// Settings follow an explicit data directory so that a throwaway
		// --data-dir (tests, demos) never touches the user's real settings.
		p.ConfigDir = filepath.Join(abs, "config")
	}
	return p, nil
}

// LogDir is the Badger directory of the profile's audit log.
func (p Paths) LogDir() string { return filepath.Join(p.DataDir, "log") }

// ExistingKeychainNamespace is KeychainNamespace when it is known without
// creating anything: always in the default location, and in an explicit
// --data-dir once a keystore was used there (ok is false otherwise).
func (p Paths) ExistingKeychainNamespace() (ns string, ok bool, err error) {
	if !p.explicit {
		return p.Profile, true, nil
	}
	f := filepath.Join(p.ConfigDir, keychainNamespaceFile)
	b, err := os.ReadFile(f)
	if os.IsNotExist(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("failed to read the keychain namespace of %s: %w", p.DataDir, err)
	}
	ns = strings.TrimSpace(string(b))
	if !keychainNamespace.MatchString(ns) {
		return "", false, fmt.Errorf("%s: %q is not a keychain namespace (a profile name, optionally followed by @ and 12 hex digits)", f, ns)
	}
	return ns, true, nil
}

// keychainNamespaceFile, in ConfigDir, records the keychain namespace of a
// log in an explicit --data-dir.
const keychainNamespaceFile = "keychain-namespace"

var keychainNamespace = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[0-9a-f]{12})?$`)

// KeychainNamespace is the name the profile's secrets (keys, anchors, the
// local API credential) go under in the OS keychain. In the default
// location it is the profile's name. A log in an explicit --data-dir gets
// its own, the profile's name and a hash of the directory
// ("default@3f9c0a1b2c4d"), so that a throwaway log never shares keys or
// anchors with the real one: sharing them made a new --data-dir log raise
// alerts for every organization of the real log, and acknowledging those
// moved the real log's anchors. The choice is kept in ConfigDir, which
// moves with the directory; a --data-dir log created before namespaces
// keeps the profile's name, under which its keys are.
func (p Paths) KeychainNamespace() (string, error) {
	ns, ok, err := p.ExistingKeychainNamespace()
	if ok || err != nil {
		return ns, err
	}
	f := filepath.Join(p.ConfigDir, keychainNamespaceFile)
	ns = p.Profile
	if _, err := os.Stat(filepath.Join(p.LogDir(), "MANIFEST")); os.IsNotExist(err) {
		sum := sha256.Sum256([]byte(p.DataDir))
		ns += "@" + hex.EncodeToString(sum[:6])
	}
	if err := os.MkdirAll(p.ConfigDir, 0o700); err != nil {
		return "", fmt.Errorf("failed to create the config directory: %w", err)
	}
	// Written whole or not at all: another process starting at the same
	// moment must not read half of it.
	tmp, err := os.CreateTemp(p.ConfigDir, "."+keychainNamespaceFile+".tmp-*")
	if err == nil {
		_, err = tmp.WriteString(ns + "\n")
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), f)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		return "", fmt.Errorf("failed to record the keychain namespace of %s: %w", p.DataDir, err)
	}
	return ns, nil
}
