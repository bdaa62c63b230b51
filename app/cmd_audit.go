package app

// An auditor's verification of a copy of the log without the keychain:
// `copy-for-audit` makes the copy and its read key (recorded in the log),
// and `verify --read-key FILE` opens the copy with it alone
// (storage/audit.go).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
)

func (c *cli) copyForAuditCommand() *cobra.Command {
	var out string
	var orgs []string
	cmd := &cobra.Command{
		Use:   "copy-for-audit --out DIR [--org ORG]...",
		Short: "Copy the log for an auditor, who verifies it without the keychain",
		Long: "copy-for-audit writes a copy of this profile's log into DIR, a new directory:\n" +
			"DIR/log, one consistent snapshot of every organization's records, tree,\n" +
			"checkpoints, integrity alerts and retention policies, and DIR/read-key, the\n" +
			"key that copy is encrypted with (mode 0600). Events no checkpoint covers get\n" +
			"a signed checkpoint, in the copy. States stay sealed with data keys the copy does\n" +
			"not hold; it has no token or sync setting, and its read key opens nothing of\n" +
			"this profile's own log. The app may keep running (the copy then goes through it).\n" +
			"With --org (repeatable) the copy holds those organizations alone: an auditor\n" +
			"of one gets nothing of the others.\n\n" +
			"The log records the copy (audit.copied_for_audit, in the axiom-audit\n" +
			"organization); a copy it cannot record is removed. The auditor verifies it\n" +
			"with no keychain:\n\n" +
			"  axiom-audit verify --data-dir DIR --read-key DIR/read-key --public-key KEY [--checkpoint CP]...\n\n" +
			"where KEY holds this profile's 'checkpoint --org ORG --public-key', published\n" +
			"where the auditor can check it, and each CP a checkpoint kept from an earlier\n" +
			"visit ('checkpoint --org ORG').",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return &RequestError{Field: "--out", Reason: "is required: a new directory for the copy"}
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return &RequestError{Field: "--out", Reason: err.Error()}
			}
			if _, err := os.Lstat(abs); err == nil {
				return &RequestError{Field: "--out", Reason: abs + " exists: name a new directory (a copy is never written into another)"}
			}
			if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
				return &RequestError{Field: "--out", Reason: "the folder " + filepath.Dir(abs) + " does not exist: the copy is made as a new directory inside one that does"}
			}
			// Interrupted, the copy is removed (by the store, or by the
			// app when the request ends) rather than left half made.
			ctx, stop := interruptible(cmd)
			defer stop()
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			for _, o := range orgs {
				// A typo is said before anything is copied, naming the
				// organizations there are.
				if err := orgHasEvents(ctx, b, o); err != nil {
					return err
				}
			}
			res, err := b.copyForAudit(ctx, abs, orgs)
			if errors.Is(err, context.Canceled) && interruptedBy(cmd, ctx, err) {
				if _, remote := b.(*RemoteClient); remote {
					// The app copies; it removes the copy when it sees
					// the request gone, which may be after this exits.
					return fmt.Errorf("interrupted: no copy was made; the app removes what it wrote in %s", abs)
				}
				return fmt.Errorf("interrupted: no copy was made, and %s is removed", abs)
			}
			if err != nil {
				var re *RequestError
				if errors.As(err, &re) && re.Field == "dir" {
					re.Field = "--out"
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "copied %s of %s into %s\n", count(int64(res.Events), "event"), count(int64(res.Organizations), "organization"), res.Dir)
			fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: %s reads every public record of the copy (its states stay sealed): hand it only to whom may read them.\n"+
				"axiom-audit: the auditor verifies the copy, with no keychain:\n"+
				"  axiom-audit verify --data-dir %s --read-key %s --public-key KEY\n"+
				"axiom-audit: where KEY holds the output of 'axiom-audit checkpoint --org ORG --public-key'.\n",
				res.ReadKeyFile, res.Dir, res.ReadKeyFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the copy into `DIR`, a new directory")
	cmd.Flags().StringArrayVar(&orgs, "org", nil, "copy organization `ORG` only (repeatable; default: every organization)")
	return cmd
}

// auditFlags are verify's flags for an auditor's copy of the log.
type auditFlags struct {
	org         string // verify's --org
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

// openAudit opens the copy in --data-dir with the read key in f.readKey,
// reading no keychain entry, and the verifier key and checkpoints the
// auditor brings.
func (c *cli) openAudit(f auditFlags) (*auditVerifier, error) {
	if c.g.DataDir == "" {
		return nil, &RequestError{Field: "--data-dir", Reason: "is required with --read-key: the directory of the copy ('copy-for-audit --out DIR')"}
	}
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
		if av.pub, err = trustedKey(f.publicKey); err != nil {
			return nil, err
		}
	}
	for _, path := range f.checkpoints {
		text, err := readSmallFile(path, maxCheckpointFile)
		if err != nil {
			return nil, &RequestError{Field: "--checkpoint", Reason: err.Error()}
		}
		h := storage.HeldCheckpoint{Name: path, Note: text}
		org, err := h.Org()
		if err != nil {
			return nil, &RequestError{Field: "--checkpoint", Reason: err.Error()}
		}
		if f.org != "" && org != f.org {
			return nil, &RequestError{Field: "--checkpoint", Reason: fmt.Sprintf("%s is a checkpoint of organization %q, and --org is %q", path, org, f.org)}
		}
		av.held = append(av.held, h)
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

// auditLogDir is the copy an auditor's verify opens: --data-dir's log
// directory (copy-for-audit's DIR/log), or --data-dir itself when it is
// that log directory.
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
		if o, err := h.Org(); err == nil && o == org {
			return nil
		}
	}
	return unknownOrgIn("this copy", org, ids)
}

// CheckNotAuditCopy refuses to open dataDir as a profile when it is an
// auditor's copy (copy-for-audit: DIR/log and DIR/read-key): no keystore
// holds its keys, and opening it as a profile would write into it (a
// keychain namespace, a new key) and answer that its master key is
// missing. The copy is opened with --read-key.
func CheckNotAuditCopy(dataDir string) error {
	key := filepath.Join(dataDir, auditCopyKeyFile)
	if _, err := os.Stat(key); err != nil || !storage.Exists(filepath.Join(dataDir, "log")) {
		return nil
	}
	return &RequestError{Field: "--data-dir", Reason: fmt.Sprintf("%s is an auditor's copy made by copy-for-audit, which opens with its read key, not a keychain: "+
		"axiom-audit verify --data-dir %s --read-key %s --public-key KEY (nothing was written to it)", dataDir, shellQuote(dataDir), shellQuote(key))}
}
