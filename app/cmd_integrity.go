package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/axiomops/axiom-audit/storage"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// integrityBackend is what verify, checkpoint and prove need: the App when
// the CLI opens the profile itself, the desktop app's API when it holds it.
type integrityBackend interface {
	latestCheckpoint(ctx context.Context, org string) (CheckpointDTO, error)
	checkpoint(ctx context.Context, org string, size uint64) (CheckpointDTO, error)
	publicKey(ctx context.Context) (string, error)
	eventProof(ctx context.Context, org, id string, treeSize uint64) (InclusionProofDTO, error)
	consistencyProof(ctx context.Context, org string, size1, size2 uint64) (ConsistencyProofDTO, error)
	verify(ctx context.Context, req VerifyRequest, progress func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (VerifyResultDTO, error)
}

// verifySummaryLine is the last line of `verify --json`.
type verifySummaryLine struct {
	Summary verifySummary `json:"summary"`
}

// verifySummary is the result without the problems, printed before it.
type verifySummary struct {
	VerifyResultDTO
	Problems []VerifyProblemDTO `json:"problems,omitempty"`
}

// verifier is what verify needs of a backend.
type verifier interface {
	verify(ctx context.Context, req VerifyRequest, progress func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (VerifyResultDTO, error)
}

func (c *cli) verifyCommand() *cobra.Command {
	var org string
	var asJSON, keyless bool
	var audit auditFlags
	cmd := &cobra.Command{
		Use:   "verify [--org ORG] [--json] [--keyless | --read-key FILE [--public-key KEY|FILE] [--checkpoint FILE]...]",
		Short: "Check the log's integrity and name every tampered record",
		Long: "verify recomputes every leaf hash from its record, the hash chain, every stored\n" +
			"tree node and root, every checkpoint signature and the consistency between\n" +
			"consecutive checkpoints, and checks that the indexes point at real records. With\n" +
			"the keys (the default) it also decrypts each state and checks its commitment.\n\n" +
			"An auditor without the keychain verifies a copy of the log the owner made with\n" +
			"'copy-for-audit --out DIR', keyless, with the copy's read key:\n\n" +
			"  axiom-audit verify --data-dir DIR --read-key DIR/read-key --public-key KEY --checkpoint CP\n\n" +
			"A copy alone cannot show that it is the newest, or that its signing key is the\n" +
			"owner's: --public-key checks every signature with the key the owner published\n" +
			"(events no checkpoint signed with it covers are a problem), and each\n" +
			"--checkpoint kept from an earlier visit must be covered by the copy.\n\n" +
			"Each problem is printed on its own line (with --json, as one JSON object per line,\n" +
			"followed by a line {\"summary\": …}). Exit status: 0 clean, 1 problems found,\n" +
			"2 the log could not be checked (or bad usage).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// One scan of the whole log, then the process ends: the
			// collector target for that (storage.SuggestedScanGCPercent).
			// Through the desktop app's API the scan runs in the app,
			// under its own settings.
			defer storage.UseScanRuntime()()
			var b verifier
			if audit.readKey != "" {
				audit.org = org
				av, err := c.openAudit(audit)
				if err != nil {
					return err
				}
				defer av.a.Close()
				b, keyless = av, true
			} else {
				switch {
				case audit.publicKey != "":
					return &RequestError{Field: "--public-key", Reason: "applies with --read-key (an auditor's copy of the log) only"}
				case len(audit.checkpoints) > 0:
					return &RequestError{Field: "--checkpoint", Reason: "applies with --read-key (an auditor's copy of the log) only; 'prove --checkpoint' checks one against this profile"}
				}
				pb, closeB, err := c.backend(cmd)
				if err != nil {
					return err
				}
				defer closeB()
				b = pb
			}
			out := bufio.NewWriter(cmd.OutOrStdout())
			defer out.Flush()
			enc := json.NewEncoder(out)
			var progress func(VerifyProgressDTO)
			if c.g.Verbose {
				var last time.Time
				progress = func(p VerifyProgressDTO) {
					if now := time.Now(); now.Sub(last) >= time.Second || p.Done == p.Total {
						last = now
						fmt.Fprintf(cmd.ErrOrStderr(), "axiom-audit: verifying %s: %d of %d records\n", p.Org, p.Done, p.Total)
					}
				}
			}
			var writeErr error
			res, err := b.verify(cmd.Context(), VerifyRequest{Org: org, Keyless: keyless}, progress, func(p VerifyProblemDTO) {
				if writeErr != nil {
					return
				}
				if asJSON {
					writeErr = enc.Encode(p)
				} else {
					_, writeErr = fmt.Fprintln(out, problemLine(p))
				}
			})
			if err != nil {
				return err
			}
			if writeErr != nil {
				return fmt.Errorf("failed to write the problems: %w", writeErr)
			}
			if asJSON {
				if err := enc.Encode(verifySummaryLine{Summary: verifySummary{VerifyResultDTO: res}}); err != nil {
					return err
				}
			} else {
				for i, r := range res.PrunedRanges {
					if i == 20 {
						fmt.Fprintf(out, "… and %d more pruned ranges (--json lists them)\n", len(res.PrunedRanges)-i)
						break
					}
					fmt.Fprintln(out, r.text())
				}
				fmt.Fprintln(out, summaryLine(res))
			}
			if err := out.Flush(); err != nil {
				return err
			}
			if !res.Clean {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "verify only this organization `ID` (default: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print problems and the summary as JSON lines")
	cmd.Flags().BoolVar(&keyless, "keyless", false, "check with no secret: states are not decrypted, signatures are checked with the verifier key stored in the log (opening the profile still needs its keychain entries; without them, verify a copy-for-audit with --read-key)")
	cmd.Flags().StringVar(&audit.readKey, "read-key", "", "verify the copy in --data-dir (made by 'copy-for-audit') with its read key in `FILE`, and no keychain; implies --keyless")
	cmd.Flags().StringVar(&audit.publicKey, "public-key", "", "with --read-key: check signatures with the verifier `KEY` (the owner's published 'checkpoint --public-key'; the key itself or a file holding it), not the one the copy stores; events no checkpoint signed with it covers are a problem")
	cmd.Flags().StringArrayVar(&audit.checkpoints, "checkpoint", nil, "with --read-key: a signed checkpoint `FILE` kept from before; the copy must hold its events, with its root (repeatable)")
	return cmd
}

func problemLine(p VerifyProblemDTO) string {
	var b strings.Builder
	b.WriteString("org " + p.Org)
	if p.Seq != 0 {
		fmt.Fprintf(&b, " seq %d", p.Seq)
	}
	if p.ID != "" {
		b.WriteString(" id " + p.ID)
	}
	if p.Checkpoint != 0 {
		fmt.Fprintf(&b, " checkpoint %d", p.Checkpoint)
	}
	b.WriteString(": " + p.Kind + ": " + p.Detail)
	return b.String()
}

func summaryLine(r VerifyResultDTO) string {
	scope := "every organization"
	if r.Org != "" {
		scope = "organization " + r.Org
	}
	how := fmt.Sprintf("%s, %s, %s", count(int64(r.Events), "event"), count(int64(r.Checkpoints), "checkpoint"), count(int64(r.States), "state"))
	if r.Keyless {
		how = fmt.Sprintf("%s, %s, keyless (states not decrypted)", count(int64(r.Events), "event"), count(int64(r.Checkpoints), "checkpoint"))
	}
	if r.Pruned > 0 {
		how += fmt.Sprintf(", %d pruned by retention policy", r.Pruned)
	}
	if r.Clean {
		return fmt.Sprintf("verified %s: %s: clean", scope, how)
	}
	return fmt.Sprintf("verified %s: %s: %s found", scope, how, count(int64(r.ProblemCount), "problem"))
}

func (c *cli) checkpointCommand() *cobra.Command {
	var org string
	var publicKey bool
	var size uint64
	cmd := &cobra.Command{
		Use:   "checkpoint --org ORG [--size N] [--public-key]",
		Short: "Print the newest signed checkpoint (C2SP signed note) or the verifier key",
		Long: "checkpoint prints ORG's newest signed checkpoint exactly as signed: a C2SP\n" +
			"tlog-checkpoint in the signed-note format, which golang.org/x/mod/sumdb/note\n" +
			"verifies with the key that --public-key prints (note verifier format).\n" +
			"With --size N it prints the stored checkpoint of the tree of N events instead\n" +
			"(the treeSize a proof was made against), if one was written for that size.\n\n" +
			"While ORG has an integrity alert (its database was rolled back or truncated)\n" +
			"the checkpoint is still printed, and the exit status is 1 with the alert.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" && !publicKey {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			if publicKey {
				key, err := b.publicKey(cmd.Context())
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(cmd.OutOrStdout(), key)
				return err
			}
			if cmd.Flags().Changed("size") && size == 0 {
				return &RequestError{Field: "--size", Reason: "must be a tree size of at least 1"}
			}
			cp, err := b.checkpoint(cmd.Context(), org, size)
			if err != nil {
				return problemExit(err)
			}
			if _, err = io.WriteString(cmd.OutOrStdout(), cp.Note); err != nil {
				return err
			}
			return alertExit(org, cp.Alert, "this checkpoint is of the database as it is now")
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization `ID`")
	cmd.Flags().BoolVar(&publicKey, "public-key", false, "print the checkpoints' verifier key instead")
	cmd.Flags().Uint64Var(&size, "size", 0, "print the stored checkpoint of the tree of `N` events")
	return cmd
}

func (c *cli) proveCommand() *cobra.Command {
	var org, checkpointFile string
	var from, to uint64
	cmd := &cobra.Command{
		Use:   "prove --org ORG (ID [--checkpoint FILE] | --from SIZE1 --to SIZE2)",
		Short: "Print an inclusion proof of an event, or a consistency proof between two tree sizes",
		Long: "With an event ID, prove prints the RFC 6962 inclusion proof of the event as JSON\n" +
			"(leafIndex, treeSize, leafHash and hashes in base64, and whether it leads to the\n" +
			"checkpoint's root) against ORG's newest signed checkpoint, or against the signed\n" +
			"checkpoint in FILE (its signature and origin are checked first).\n\n" +
			"With --from and --to, it prints the consistency proof that the tree of SIZE2\n" +
			"events extends the tree of SIZE1 events.\n\n" +
			"The exit status is 1 when the proof does not verify; when the checkpoint in\n" +
			"FILE is of more events than the log holds (it was rolled back or truncated);\n" +
			"when the log's newest stored checkpoint does not verify; or when ORG has an\n" +
			"integrity alert (the proof is then printed too).",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			consistency := cmd.Flags().Changed("from") || cmd.Flags().Changed("to")
			switch {
			case consistency && len(args) == 1:
				return &RequestError{Field: "ID", Reason: "cannot be combined with --from/--to: prove either an event or consistency"}
			case consistency && !cmd.Flags().Changed("to"):
				return &RequestError{Field: "--to", Reason: "is required with --from"}
			case consistency && checkpointFile != "":
				return &RequestError{Field: "--checkpoint", Reason: "applies to inclusion proofs only"}
			case !consistency && len(args) == 0:
				return &RequestError{Field: "ID", Reason: "is required: the id of the event to prove (or --from and --to)"}
			case consistency && from > to:
				return &RequestError{Field: "--from", Reason: fmt.Sprintf("must not exceed --to (%d > %d)", from, to)}
			}
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			latest, err := b.latestCheckpoint(cmd.Context(), org)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return problemExit(err)
			}
			if consistency {
				p, err := b.consistencyProof(cmd.Context(), org, from, to)
				if err != nil {
					return problemExit(err)
				}
				if err := enc.Encode(p); err != nil {
					return err
				}
				return alertExit(org, latest.Alert, "this proof is of the database as it is now")
			}
			var size uint64
			var root *tlog.Hash
			// The proof carries the signed checkpoint it leads to, so that
			// it can be checked when handed over on its own.
			note := latest.Note
			if checkpointFile != "" {
				cp, err := c.readCheckpointFile(cmd.Context(), b, org, checkpointFile)
				if err != nil {
					return err
				}
				// The log signed a tree of cp.Size events: a database
				// without them was rolled back or truncated, whatever
				// the keychain says now.
				if _, err := b.consistencyProof(cmd.Context(), org, cp.Size, cp.Size); errors.Is(err, storage.ErrNotFound) {
					return &ExitError{Code: 1, Err: fmt.Errorf("the signed checkpoint in %s is of %d events, more than the log of organization %s holds: "+
						"the database was rolled back or truncated (%v)", checkpointFile, cp.Size, org, err)}
				}
				size, root = cp.Size, &cp.Root
				raw, err := os.ReadFile(checkpointFile)
				if err != nil {
					return &RequestError{Field: "--checkpoint", Reason: err.Error()}
				}
				// As a signed note is: LF line ends, one at the end.
				note = strings.TrimRight(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n") + "\n"
			}
			p, err := b.eventProof(cmd.Context(), org, args[0], size)
			if err != nil {
				return problemExit(err)
			}
			if root != nil {
				p.Verified = verifyInclusionDTO(p, *root) == nil
			}
			out := struct {
				InclusionProofDTO
				Checkpoint string `json:"checkpoint,omitempty"`
			}{InclusionProofDTO: p}
			if root != nil || p.TreeSize == latest.Size {
				out.Checkpoint = note
			}
			if err := enc.Encode(out); err != nil {
				return err
			}
			if !p.Verified {
				return &ExitError{Code: 1, Err: fmt.Errorf("the proof of event %s does not lead to the checkpoint's root: the log or the checkpoint was changed", args[0])}
			}
			return alertExit(org, latest.Alert, "this proof is of the database as it is now")
		},
	}
	cmd.Flags().StringVar(&org, "org", "", "organization `ID`")
	cmd.Flags().StringVar(&checkpointFile, "checkpoint", "", "prove against the signed checkpoint in `FILE` instead of the newest")
	cmd.Flags().Uint64Var(&from, "from", 0, "consistency proof from tree `SIZE1`")
	cmd.Flags().Uint64Var(&to, "to", 0, "consistency proof to tree `SIZE2`")
	return cmd
}

// problemExit gives exit status 1 (a problem found, as verify's) to an
// error that says the log was tampered with or has an integrity alert.
func problemExit(err error) error {
	if errors.Is(err, storage.ErrTampered) || errors.Is(err, storage.ErrIntegrityAlert) {
		return &ExitError{Code: 1, Err: err}
	}
	return err
}

// alertExit is nil when org has no integrity alert; otherwise exit status
// 1 with the alert, so that what a command printed (of a log that was
// rolled back or truncated) is not taken for a clean answer.
func alertExit(org string, a *IntegrityAlertDTO, what string) error {
	if a == nil {
		return nil
	}
	return &ExitError{Code: 1, Err: fmt.Errorf("organization %s has an integrity alert, and %s, not of the log its anchor records: %s", org, what, a.Message)}
}

// readCheckpointFile opens a signed checkpoint of org from a file: the
// signature must verify with this installation's key and the origin must
// be org's log. A file that is not such a checkpoint is a usage error
// (exit 2); one whose signature by this log's key fails, exit 1.
func (c *cli) readCheckpointFile(ctx context.Context, b integrityBackend, org, path string) (tlog.Checkpoint, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxCheckpointFile {
		return tlog.Checkpoint{}, &RequestError{Field: "--checkpoint", Reason: fmt.Sprintf("%s has %d bytes, more than a signed checkpoint (%d at most)", path, fi.Size(), maxCheckpointFile)}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return tlog.Checkpoint{}, &RequestError{Field: "--checkpoint", Reason: err.Error()}
	}
	text = tlog.CopiedNote(text)
	key, err := b.publicKey(ctx)
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return tlog.Checkpoint{}, err
	}
	// The origin follows from the key (tlog.Origin), not from the log:
	// a checkpoint of a log the database no longer holds at all is
	// still read, and then proves the rollback.
	cp, err := tlog.OpenCheckpoint(text, key, v.Name()+"/"+org)
	if errors.Is(err, tlog.ErrBadSignature) || errors.Is(err, tlog.ErrUnknownKey) && signedBy(text, v.Name()) {
		// A signature line of this log's key that does not verify (a
		// change to the signature's first bytes changes the key hash
		// it names): the text or the signature was changed since this
		// log signed it. A problem found, as verify's, not a wrong file.
		return tlog.Checkpoint{}, &ExitError{Code: 1, Err: fmt.Errorf("--checkpoint: %s was changed since this log signed it: %v", path, err)}
	}
	if err != nil {
		return tlog.Checkpoint{}, &RequestError{Field: "--checkpoint", Reason: fmt.Sprintf("%s is not a valid checkpoint of organization %s: %v", path, org, err)}
	}
	return cp, nil
}

// maxCheckpointFile bounds a --checkpoint file. A signed checkpoint is a
// few hundred bytes (with witness cosignatures, a few KB): a larger file is
// not one.
const maxCheckpointFile = 64 << 10

// signedBy reports whether the signed note text has a signature line of
// the key named name, whatever its key hash and signature.
func signedBy(text []byte, name string) bool {
	_, sigs, ok := strings.Cut(string(text), "\n\n")
	if !ok {
		return false
	}
	for _, line := range strings.Split(sigs, "\n") {
		if strings.HasPrefix(line, "\u2014 "+name+" ") {
			return true
		}
	}
	return false
}

func verifyInclusionDTO(p InclusionProofDTO, root tlog.Hash) error {
	leaf, err := tlog.ParseHash(p.LeafHash)
	if err != nil {
		return err
	}
	hashes := make([][]byte, len(p.Hashes))
	for i, h := range p.Hashes {
		x, err := tlog.ParseHash(h)
		if err != nil {
			return err
		}
		hashes[i] = x[:]
	}
	return tlog.VerifyInclusion(leaf, p.LeafIndex, p.TreeSize, hashes, root)
}

func (c *cli) recoverCommand() *cobra.Command {
	var org, reason string
	var acknowledge bool
	cmd := &cobra.Command{
		Use:   "recover --acknowledge [--org ORG] [--reason TEXT]",
		Short: "Accept the database as it is after an integrity alert, and record that you did",
		Long: "When the database is older than, or inconsistent with, the newest checkpoint kept\n" +
			"in the keychain (a rollback or truncation), the log refuses appends. Either restore\n" +
			"the right database, or run recover --acknowledge: it records an\n" +
			"audit.integrity_alert_acknowledged event with the evidence (both tree sizes and\n" +
			"roots), clears the alert and re-anchors the log on its current tree.\n" +
			"Without --org it acknowledges every organization's alert.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				return explained(err, "%v: close it first; recovery needs the database to itself", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			alerts, err := a.integrityAlerts(cmd.Context())
			if err != nil {
				return err
			}
			var mine []storage.IntegrityAlert
			for _, al := range alerts {
				if org == "" || al.Org == org {
					mine = append(mine, al)
				}
			}
			out := cmd.OutOrStdout()
			if len(mine) == 0 {
				if org != "" {
					fmt.Fprintf(out, "organization %s has no integrity alert; nothing to recover\n", org)
				} else {
					fmt.Fprintln(out, "no organization has an integrity alert; nothing to recover")
				}
				return nil
			}
			for _, al := range mine {
				// While acknowledging, not the advice to acknowledge.
				msg := al.Message()
				if acknowledge {
					msg = al.Finding()
				}
				fmt.Fprintf(out, "organization %s: %s\n", al.Org, msg)
			}
			if !acknowledge {
				return &RequestError{Field: "--acknowledge", Reason: "is required: it records that you accept the database as it is"}
			}
			why := reason
			if why == "" {
				why = "acknowledged with axiom-audit recover"
			}
			for _, al := range mine {
				rec, err := a.acknowledgeIntegrityAlert(cmd.Context(), al.Org, why)
				if err != nil {
					return fmt.Errorf("failed to acknowledge the alert of organization %s: %w", al.Org, err)
				}
				fmt.Fprintf(out, "organization %s: alert acknowledged (event %s, seq %d); appends are accepted again\n", al.Org, rec.ID, rec.Seq)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&acknowledge, "acknowledge", false, "accept the database as it is (recorded in the log with the evidence)")
	cmd.Flags().StringVar(&org, "org", "", "only this organization `ID`")
	cmd.Flags().StringVar(&reason, "reason", "", "why you accept it (recorded in the event)")
	return cmd
}
