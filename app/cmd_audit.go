package app

// An auditor's verification of a copy of the log without the keychain:
// `keys export-read-key` hands out the read key (recorded in the log), and
// `verify --read-key FILE` opens a copy with it alone (storage/audit.go).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage"
)

func (c *cli) exportReadKeyCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export-read-key --out FILE",
		Short: "Write the log's read key to FILE, for an auditor to verify a copy without the keychain",
		Long: "export-read-key writes the key this profile's log is encrypted with at rest to\n" +
			"FILE (a new file, mode 0600). With it, and no keychain, an auditor verifies a\n" +
			"copy of the log's directory (DATA/log; with --keystore file the rest of the data\n" +
			"directory holds the keys, so copy only that):\n\n" +
			"  axiom-audit verify --data-dir COPY --read-key FILE [--public-key KEY] [--checkpoint CP]...\n\n" +
			"The read key reads every public record of every organization (who did what,\n" +
			"when, to which resource), and no state: states are sealed with data keys it\n" +
			"cannot unwrap. The log records the hand-out (audit.read_key_exported, in the\n" +
			"axiom-audit organization, naming FILE) before the key is written; when it\n" +
			"cannot be recorded, nothing is written.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return &RequestError{Field: "--out", Reason: "is required: the file to write the read key to"}
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return &RequestError{Field: "--out", Reason: err.Error()}
			}
			// The file is made first, so that a path that cannot be
			// written is refused before the log records a hand-out.
			f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				if errors.Is(err, os.ErrExist) {
					return &RequestError{Field: "--out", Reason: abs + " exists: choose a new file (a read key is never written over another file)"}
				}
				return &RequestError{Field: "--out", Reason: err.Error()}
			}
			done := false
			defer func() {
				if !done {
					f.Close()
					os.Remove(abs)
				}
			}()
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			key, err := b.exportReadKey(cmd.Context(), abs)
			if err != nil {
				return err
			}
			if _, err := f.Write(key); err != nil {
				return fmt.Errorf("failed to write the read key to %s (the log records the hand-out; the file is removed): %w", abs, err)
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("failed to write the read key to %s (the log records the hand-out; the file is removed): %w", abs, err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("failed to write the read key to %s (the log records the hand-out; the file is removed): %w", abs, err)
			}
			done = true
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the read key to %s\n", abs)
			fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: %s reads every public record of this profile's log (no state): hand it only to whom may read them.\n"+
				"axiom-audit: an auditor copies the log directory %s (only that: the rest of the data directory is not needed)\n"+
				"axiom-audit: and verifies the copy with no keychain:\n"+
				"  axiom-audit verify --data-dir COPY --read-key %s --public-key KEY\n"+
				"axiom-audit: where KEY holds the output of 'axiom-audit checkpoint --org ORG --public-key'.\n",
				abs, c.logDirName(), filepath.Base(abs))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the read key to `FILE` (a new file)")
	return cmd
}

// logDirName is the directory an auditor copies: the profile's log.
func (c *cli) logDirName() string {
	p, err := ResolvePaths(c.g.Profile, c.g.DataDir)
	if err != nil {
		return "of the profile"
	}
	return p.LogDir()
}

// auditFlags are verify's flags for an auditor's copy of the log.
type auditFlags struct {
	readKey     string
	publicKey   string
	checkpoints []string
}

// auditVerifier verifies a log opened with its read key alone.
type auditVerifier struct {
	a    *storage.Audit
	pub  string
	held []storage.HeldCheckpoint
}

// openAudit opens the profile's log (--data-dir, or the profile) with the
// read key in f.readKey, reading no keychain entry, and the verifier key
// and checkpoints the auditor brings.
func (c *cli) openAudit(f auditFlags) (*auditVerifier, error) {
	text, err := readSmallFile(f.readKey, 4<<10)
	if err != nil {
		return nil, &RequestError{Field: "--read-key", Reason: err.Error()}
	}
	key, err := storage.ParseReadKey(text)
	if err != nil {
		return nil, &RequestError{Field: "--read-key", Reason: fmt.Sprintf("%s: %v", f.readKey, err)}
	}
	av := &auditVerifier{}
	if f.publicKey != "" {
		text, err := readSmallFile(f.publicKey, 4<<10)
		if err != nil {
			return nil, &RequestError{Field: "--public-key", Reason: err.Error()}
		}
		av.pub = strings.TrimSpace(string(text))
		if _, err := note.NewVerifier(av.pub); err != nil {
			return nil, &RequestError{Field: "--public-key", Reason: fmt.Sprintf("%s does not hold a verifier key (the output of 'axiom-audit checkpoint --org ORG --public-key'): %v", f.publicKey, err)}
		}
	}
	for _, path := range f.checkpoints {
		text, err := readSmallFile(path, maxCheckpointFile)
		if err != nil {
			return nil, &RequestError{Field: "--checkpoint", Reason: err.Error()}
		}
		av.held = append(av.held, storage.HeldCheckpoint{Name: path, Note: text})
	}
	dir, err := c.auditLogDir()
	if err != nil {
		return nil, err
	}
	if av.a, err = storage.OpenForAudit(dir, key, storage.Options{}); err != nil {
		return nil, err
	}
	return av, nil
}

// auditLogDir is the log an auditor's verify opens: the profile's (or
// --data-dir's) log directory, or --data-dir itself when it is a copy of
// the log directory alone, as export-read-key suggests.
func (c *cli) auditLogDir() (string, error) {
	p, err := ResolvePaths(c.g.Profile, c.g.DataDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(p.LogDir(), "MANIFEST")); err != nil && p.explicit {
		if _, err := os.Stat(filepath.Join(p.DataDir, "MANIFEST")); err == nil {
			return p.DataDir, nil
		}
	}
	return p.LogDir(), nil
}

// readSmallFile reads path, refusing one over max bytes.
func readSmallFile(path string, max int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		return nil, fmt.Errorf("%s has %d bytes, more than the %d it can hold", path, fi.Size(), max)
	}
	return os.ReadFile(path)
}

// verify is App.verify for the auditor: keyless, recording nothing (the
// copy is read only).
func (av *auditVerifier) verify(ctx context.Context, req VerifyRequest, progress func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (VerifyResultDTO, error) {
	req.Keyless = true
	if req.Org != "" {
		if err := av.requireOrg(ctx, req.Org); err != nil {
			return VerifyResultDTO{}, err
		}
	}
	res, _, _, err := collectVerify(req, storage.VerifyOptions{Org: req.Org, PublicKey: av.pub, Checkpoints: av.held}, time.Now,
		func(opts storage.VerifyOptions, report func(storage.Problem) error) (storage.VerifySummary, error) {
			return av.a.Verify(ctx, opts, report)
		}, progress, problem)
	return res, err
}

// requireOrg fails when org is neither in the log nor named by a kept
// checkpoint (whose organization is checked even when its log is gone).
func (av *auditVerifier) requireOrg(ctx context.Context, org string) error {
	orgs, err := av.a.Organizations(ctx)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(orgs))
	for _, o := range orgs {
		if o.ID == org {
			return nil
		}
		ids = append(ids, o.ID)
	}
	for _, h := range av.held {
		if strings.HasSuffix(strings.SplitN(string(h.Note), "\n", 2)[0], "/"+org) {
			return nil
		}
	}
	return unknownOrgError(org, ids)
}
