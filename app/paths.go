package app

import (
	"fmt"
	"path/filepath"
	"regexp"

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
		// Settings follow an explicit data directory so that a throwaway
		// --data-dir (tests, demos) never touches the user's real settings.
		p.ConfigDir = filepath.Join(abs, "config")
	}
	return p, nil
}
