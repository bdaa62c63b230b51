package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/axiomops/axiom-audit/storage/tlog"
)

// SignedCheckpoint is one stored checkpoint of an organization: the C2SP
// checkpoint, its signed note exactly as stored, when the store wrote it,
// and its number (1 for an organization's first checkpoint). A heartbeat
// re-signs an unchanged tree at a later time, with the next Number. Time is
// what the note signs (Checkpoint.Time), to the nanosecond; checkpoints
// signed before notes carried their time have a zero Checkpoint.Time.
type SignedCheckpoint struct {
	Checkpoint tlog.Checkpoint
	Note       []byte
	Time       time.Time
	Number     uint64
}

const checkpointV byte = 0x01

func checkpointKey(org string, n uint64) []byte {
	return binary.BigEndian.AppendUint64(orgPrefix(tagCheckpt, org), n)
}

func encodeCheckpoint(sc SignedCheckpoint) []byte {
	b := make([]byte, 0, 9+len(sc.Note))
	b = append(b, checkpointV)
	b = binary.BigEndian.AppendUint64(b, uint64(sc.Time.UnixNano()))
	return append(b, sc.Note...)
}

// decodeCheckpoint decodes a stored checkpoint without verifying its
// signature; the body is parsed from the note text.
func decodeCheckpoint(v []byte, n uint64) (SignedCheckpoint, error) {
	if len(v) < 9 || v[0] != checkpointV {
		return SignedCheckpoint{}, fmt.Errorf("checkpoint %d: unknown version or truncated: %w", n, errCorrupt)
	}
	sc := SignedCheckpoint{Time: time.Unix(0, int64(binary.BigEndian.Uint64(v[1:]))).UTC(), Note: slices.Clone(v[9:]), Number: n}
	body, _, ok := strings.Cut(string(sc.Note), "\n\n")
	if !ok {
		return sc, fmt.Errorf("checkpoint %d: the note has no signature block: %w", n, errCorrupt)
	}
	cp, err := tlog.ParseCheckpoint([]byte(body + "\n"))
	if err != nil {
		return sc, fmt.Errorf("checkpoint %d: %v: %w", n, err, errCorrupt)
	}
	sc.Checkpoint = cp
	return sc, nil
}

// newestCheckpoint returns org's newest stored checkpoint (zero when none).
func (s *Store) newestCheckpoint(txn *badger.Txn, org string) (SignedCheckpoint, uint64, error) {
	p := orgPrefix(tagCheckpt, org)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, Reverse: true})
	defer it.Close()
	it.Seek(append(slices.Clip(p), 0xff))
	if !it.Valid() {
		return SignedCheckpoint{}, 0, nil
	}
	k := it.Item().Key()
	if len(k) != len(p)+8 {
		return SignedCheckpoint{}, 0, fmt.Errorf("checkpoint key of organization %q is malformed: %w", org, ErrTampered)
	}
	n := binary.BigEndian.Uint64(k[len(p):])
	var sc SignedCheckpoint
	err := it.Item().Value(func(v []byte) error {
		var err error
		sc, err = decodeCheckpoint(v, n)
		return err
	})
	if err != nil {
		return SignedCheckpoint{}, 0, fmt.Errorf("organization %q: %w", org, err)
	}
	return sc, n, nil
}

// Checkpoint writes a signed checkpoint of org's current tree now and
// returns it, even when nothing changed since the last one (then it is a
// heartbeat). The new checkpoint is first checked consistent with the
// previous one; it is stored in the log and mirrored into the keystore as
// org's anchor. It fails with ErrIntegrityAlert while org has an
// unacknowledged alert, and with ErrNotFound when org has no events.
func (s *Store) Checkpoint(ctx context.Context, org string) (SignedCheckpoint, error) {
	if !validOrg(org) {
		return SignedCheckpoint{}, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return SignedCheckpoint{}, ErrClosed
	}
	return s.checkpoint(ctx, org, false)
}

var errIntegrityDisabled = errors.New("the integrity layer is disabled")

// treeDamage reports whether err, from reading or checking stored tree
// nodes, tiles or the records' leaf hashes, says the stored tree is wrong
// (a node missing or malformed, a record that does not decode, or not
// consistent) rather than that the reading stopped: a cancelled
// context or an I/O error says nothing about the log's integrity.
func treeDamage(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return errors.Is(err, tlog.ErrNodeNotFound) || errors.Is(err, tlog.ErrInconsistent) ||
		errors.Is(err, tlog.ErrInvalidProof) || errors.Is(err, tlog.ErrWrongOrigin) ||
		errors.Is(err, ErrTampered) || errors.Is(err, errCorrupt)
}

// checkpoint signs org's committed tree. ack is set by an acknowledgement,
// which re-anchors an organization that has an alert.
func (s *Store) checkpoint(ctx context.Context, org string, ack bool) (SignedCheckpoint, error) {
	in := s.integ
	if in == nil || in.disabled {
		return SignedCheckpoint{}, errIntegrityDisabled
	}
	if err := ctx.Err(); err != nil {
		return SignedCheckpoint{}, err
	}
	in.cpMu.Lock()
	defer in.cpMu.Unlock()
	in.mu.Lock()
	alert, alerted := in.alerts[org]
	o := in.org(org)
	prev, prevN := o.last, o.lastN
	in.mu.Unlock()
	if alerted && !ack {
		return SignedCheckpoint{}, &IntegrityAlertError{Alert: alert}
	}
	origin := tlog.Origin(in.instID, org)
	var next tlog.Checkpoint
	err := s.db.View(func(txn *badger.Txn) error {
		t, _, err := readTree(txn, org)
		if err != nil {
			return err
		}
		if t.Size() == 0 {
			return fmt.Errorf("organization %q has no events to checkpoint: %w", org, ErrNotFound)
		}
		next = tlog.Checkpoint{Origin: origin, Size: t.Size(), Root: t.Root()}
		// The compact range and the stored nodes must agree: a proof built
		// from the nodes is checked against the root of the range.
		root, err := tlog.RootAt(ctx, s.nodes(txn, org), next.Size)
		if err != nil && !treeDamage(err) {
			return fmt.Errorf("failed to read the tree of organization %q at size %d: %w", org, next.Size, err)
		}
		if err != nil || root != next.Root {
			return fmt.Errorf("refusing to sign: organization %q's stored tree nodes do not give the root of its compact range at size %d (%v): %w",
				org, next.Size, err, ErrTampered)
		}
		if prev.Note == nil || ack {
			// An acknowledgement accepts the database as it is, evidence
			// recorded: its history may differ from the checkpoints it
			// stores (they are the alert), and the new anchor starts from
			// it.
			return nil
		}
		err = tlog.CheckConsistent(ctx, s.nodes(txn, org), prev.Checkpoint, next)
		if err != nil && !treeDamage(err) {
			return fmt.Errorf("failed to check that organization %q's tree at size %d extends checkpoint %d (size %d): %w",
				org, next.Size, prevN, prev.Checkpoint.Size, err)
		}
		if err != nil {
			return fmt.Errorf("refusing to sign a checkpoint of organization %q at size %d that does not extend checkpoint %d (size %d): %w: %w",
				org, next.Size, prevN, prev.Checkpoint.Size, ErrTampered, err)
		}
		return nil
	})
	if err != nil {
		// A cancelled or expired ctx is the caller's doing, never evidence
		// of tampering, even when it interrupted a read of the tree.
		if cerr := ctx.Err(); cerr != nil {
			return SignedCheckpoint{}, fmt.Errorf("checkpoint of organization %q interrupted: %w", org, cerr)
		}
		if errors.Is(err, ErrTampered) && !ack {
			s.raiseAlert(IntegrityAlert{Org: org, Kind: AlertInconsistent, AnchorSize: prev.Checkpoint.Size,
				AnchorRoot: prev.Checkpoint.Root, DBSize: next.Size, DBRoot: next.Root, Detail: err.Error()})
		}
		return SignedCheckpoint{}, err
	}
	// What is signed is durable before the anchor moves past it, or a
	// crash would look like a rollback: every commit returns synced
	// (SyncWrites, store.go).
	// The note signs when it was made, so that a heartbeat of an unchanged
	// tree is a new statement, not the last note again.
	now := s.opts.Now().UTC()
	next.Time = now.Truncate(time.Second)
	noteText, err := tlog.Sign(next, in.signer)
	if err != nil {
		return SignedCheckpoint{}, err
	}
	sc := SignedCheckpoint{Checkpoint: next, Note: noteText, Time: now, Number: prevN + 1}
	// Through update: a checkpoint of files that were removed would be
	// lost with them, and its anchor would then belong to no log, or to
	// a new one made at the same path.
	err = s.update(func(txn *badger.Txn) error {
		return txn.Set(checkpointKey(org, sc.Number), encodeCheckpoint(sc))
	})
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("failed to store checkpoint %d of organization %q: %w", sc.Number, org, err)
	}
	in.mu.Lock()
	o.last, o.lastN = sc, sc.Number
	o.pending, o.dirtyAt = 0, 0
	if o.durable > next.Size {
		o.pending, o.dirtyAt = o.durable-next.Size, sc.Time.UnixNano()
	}
	anchored := slices.Contains(in.anchors, org)
	in.mu.Unlock()
	// The anchor first: a list that cannot be written must not leave the
	// organization without one.
	if err := in.ks.Set(ctx, KeyAnchor(org), noteText); err != nil {
		return sc, fmt.Errorf("checkpoint %d of organization %q is stored, but the keystore refused its anchor: %w", sc.Number, org, err)
	}
	if !anchored {
		if err := in.listAnchor(ctx, org); err != nil {
			return sc, fmt.Errorf("checkpoint %d of organization %q is stored, but the keystore refused the anchor list: %w", sc.Number, org, err)
		}
	}
	return sc, nil
}

// anchorListBytes bounds one entry of the anchor list. Keychains bound a
// secret (Windows' credential manager takes 2,560 bytes, go-keyring's
// macOS path about 4,000 with the command around it), and go-keyring
// stores it base64-encoded: 1,500 bytes is some 2,000 encoded.
const anchorListBytes = 1500

// anchorListName is the keystore name of entry i of the anchor list.
func anchorListName(i int) string {
	if i == 0 {
		return keyAnchorOrgs
	}
	return fmt.Sprintf("%s/%d", keyAnchorOrgs, i)
}

// listAnchor adds org to the anchor list in the keystore: to its last
// entry, or to a new one when that is full. The caller holds cpMu.
func (in *integrity) listAnchor(ctx context.Context, org string) error {
	in.mu.Lock()
	chunks := slices.Clone(in.anchorChunks)
	in.mu.Unlock()
	last := len(chunks) - 1
	if last < 0 || len(chunks[last]) > 0 && len(chunks[last])+1+len(org) > anchorListBytes {
		chunks = append(chunks, "")
		last++
	}
	text := org
	if chunks[last] != "" {
		text = chunks[last] + "\n" + org
	}
	if err := in.ks.Set(ctx, anchorListName(last), []byte(text)); err != nil {
		return err
	}
	chunks[last] = text
	in.mu.Lock()
	in.anchorChunks = chunks
	in.anchors = append(in.anchors, org)
	in.mu.Unlock()
	return nil
}

// checkpointLoop writes checkpoints when CheckpointEvery events or
// CheckpointInterval after a change have passed, and heartbeats every
// HeartbeatInterval, until ctx ends. Time comes from Options.Now.
func (s *Store) checkpointLoop(ctx context.Context) {
	in := s.integ
	period := min(time.Second, s.opts.CheckpointInterval/4, s.opts.HeartbeatInterval/4)
	period = max(period, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	retryAt := map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-in.wake:
		}
		now := s.opts.Now()
		var due []string
		in.mu.Lock()
		for org, o := range in.orgs {
			if _, alerted := in.alerts[org]; alerted || o.durable == 0 {
				continue
			}
			if !retryAt[org].IsZero() && now.Before(retryAt[org]) {
				continue
			}
			switch {
			case o.pending >= uint64(s.opts.CheckpointEvery),
				o.pending > 0 && now.Sub(time.Unix(0, o.dirtyAt)) >= s.opts.CheckpointInterval,
				o.last.Note != nil && now.Sub(o.last.Time) >= s.opts.HeartbeatInterval:
				due = append(due, org)
			}
		}
		in.mu.Unlock()
		for _, org := range due {
			if ctx.Err() != nil {
				return
			}
			if _, err := s.checkpoint(ctx, org, false); err != nil {
				if ctx.Err() == nil {
					s.log.Error("failed to write a checkpoint", "org", org, "err", err)
				}
				retryAt[org] = now.Add(time.Minute)
				continue
			}
			delete(retryAt, org)
		}
	}
}

// finalCheckpoints checkpoints every organization changed since its last
// checkpoint; Close calls it once the writer has stopped.
func (s *Store) finalCheckpoints() {
	in := s.integ
	if in == nil || in.disabled {
		return
	}
	var due []string
	in.mu.Lock()
	for org, o := range in.orgs {
		if _, alerted := in.alerts[org]; !alerted && o.pending > 0 {
			due = append(due, org)
		}
	}
	in.mu.Unlock()
	for _, org := range due {
		if _, err := s.checkpoint(context.Background(), org, false); err != nil {
			s.log.Error("failed to write the closing checkpoint", "org", org, "err", err)
		}
	}
}

// LatestCheckpoint returns org's newest stored checkpoint. It fails with
// ErrNotFound before org's first checkpoint.
func (s *Store) LatestCheckpoint(ctx context.Context, org string) (SignedCheckpoint, error) {
	if err := s.integrityReady(ctx); err != nil {
		return SignedCheckpoint{}, err
	}
	in := s.integ
	in.mu.Lock()
	var last SignedCheckpoint
	var n uint64
	if o := in.orgs[org]; o != nil {
		last, n = o.last, o.lastN
	}
	in.mu.Unlock()
	if last.Note == nil {
		return SignedCheckpoint{}, fmt.Errorf("organization %q has no checkpoint yet: %w", org, ErrNotFound)
	}
	// What is handed out (printed for an auditor, proved against, synced)
	// is a note that verifies, and says what the store read from it.
	if err := in.checkStored(org, last); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("the newest stored checkpoint of organization %q (number %d) does not verify: %v: %w", org, n, err, ErrTampered)
	}
	return last, nil
}

// checkStored opens a stored checkpoint's note with the installation's key
// and org's origin, and checks that it says what the store read from it.
func (in *integrity) checkStored(org string, sc SignedCheckpoint) error {
	cp, err := tlog.OpenCheckpoint(sc.Note, in.vkey, tlog.Origin(in.instID, org))
	if err == nil && cp != sc.Checkpoint {
		err = fmt.Errorf("it reads size %d, root %s; the store holds size %d, root %s", cp.Size, cp.Root, sc.Checkpoint.Size, sc.Checkpoint.Root)
	}
	return err
}

// CheckpointOfSize returns org's stored signed checkpoint of the tree of
// size events, checked as LatestCheckpoint checks the newest: what an
// auditor fetches to check a proof of that size (prove prints its
// treeSize). Checkpoints are written every CheckpointEvery events or
// CheckpointInterval, not for every size: ErrNotFound when none was.
func (s *Store) CheckpointOfSize(ctx context.Context, org string, size uint64) (SignedCheckpoint, error) {
	if err := s.integrityReady(ctx); err != nil {
		return SignedCheckpoint{}, err
	}
	var found SignedCheckpoint
	var below, above uint64 // the nearest stored sizes, for the error
	errFound := errors.New("found")
	err := s.Checkpoints(ctx, org, func(c SignedCheckpoint) error {
		switch n := c.Checkpoint.Size; {
		case n == size:
			found = c
			return errFound
		case n < size:
			below = max(below, n)
		case above == 0 || n < above:
			above = n
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return SignedCheckpoint{}, err
	}
	if found.Note == nil {
		var nearest []string
		if below > 0 {
			nearest = append(nearest, fmt.Sprint(below))
		}
		if above > 0 {
			nearest = append(nearest, fmt.Sprint(above))
		}
		hint := "it has none yet"
		switch {
		case len(nearest) == 2:
			hint = "the nearest stored are of " + strings.Join(nearest, " and ") + " events"
		case nearest != nil && below+above == 1:
			hint = "the nearest stored is of 1 event"
		case nearest != nil:
			hint = "the nearest stored is of " + nearest[0] + " events"
		}
		events := "events"
		if size == 1 {
			events = "event"
		}
		return SignedCheckpoint{}, fmt.Errorf("organization %q has no stored checkpoint of %d %s (checkpoints are stored as the log grows, not for every size): %s: %w",
			org, size, events, hint, ErrNotFound)
	}
	if err := s.integ.checkStored(org, found); err != nil {
		return SignedCheckpoint{}, fmt.Errorf("stored checkpoint %d of organization %q (%d events) does not verify: %v: %w", found.Number, org, size, err, ErrTampered)
	}
	return found, nil
}

// storedNote reports whether note is, byte for byte, one of org's stored
// checkpoints, looking back from the newest to those of size. The keychain
// anchor always is: a checkpoint is stored before it is mirrored there,
// whatever the clocks say, and a heartbeat of an unchanged tree is a new
// note (it signs its time). A stored checkpoint that does not decode is
// passed over (verify reports it).
func storedNote(txn *badger.Txn, org string, note []byte, size uint64) bool {
	p := orgPrefix(tagCheckpt, org)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p, Reverse: true})
	defer it.Close()
	for it.Seek(append(slices.Clip(p), 0xff)); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) != len(p)+8 {
			continue
		}
		var sc SignedCheckpoint
		err := it.Item().Value(func(v []byte) error {
			var err error
			sc, err = decodeCheckpoint(v, binary.BigEndian.Uint64(k[len(p):]))
			return err
		})
		switch {
		case err != nil:
		case bytes.Equal(sc.Note, note):
			return true
		case sc.Checkpoint.Size < size:
			return false
		}
	}
	return false
}

// Checkpoints calls fn with each stored checkpoint of org, oldest first,
// until fn returns an error (which Checkpoints returns). Signatures are not
// checked here; Verify does that.
func (s *Store) Checkpoints(ctx context.Context, org string, fn func(SignedCheckpoint) error) error {
	if !validOrg(org) {
		return fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	return s.view(ctx, func(txn *badger.Txn) error {
		p := orgPrefix(tagCheckpt, org)
		it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			k := it.Item().Key()
			if len(k) != len(p)+8 {
				return fmt.Errorf("checkpoint key of organization %q is malformed: %w", org, ErrTampered)
			}
			var sc SignedCheckpoint
			err := it.Item().Value(func(v []byte) error {
				var err error
				sc, err = decodeCheckpoint(v, binary.BigEndian.Uint64(k[len(p):]))
				return err
			})
			if err != nil {
				return fmt.Errorf("organization %q: %w", org, err)
			}
			if err := fn(sc); err != nil {
				return err
			}
		}
		return nil
	})
}

// PublicKey returns the checkpoint verifier key in the note verifier format
// ("<name>+<hash>+<key>"), as stored in the log.
func (s *Store) PublicKey(ctx context.Context) (string, error) {
	if err := s.integrityReady(ctx); err != nil {
		return "", err
	}
	return s.integ.vkey, nil
}

// SignManifest signs, with the key that signs org's checkpoints, the
// statement that an export bundle of org's log has the manifest whose seal
// (its SHA-256 with the seal zeroed, lowercase hex) is sum: the bundle's
// manifest.sig (tlog.ManifestHeader).
func (s *Store) SignManifest(ctx context.Context, org, sum string) ([]byte, error) {
	if err := s.integrityReady(ctx); err != nil {
		return nil, err
	}
	if !validOrg(org) {
		return nil, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if s.integ.signer == nil {
		return nil, fmt.Errorf("this log holds no signing key (an auditor's copy): it cannot sign an export")
	}
	return tlog.SignManifest(tlog.ManifestStatement{Origin: tlog.Origin(s.integ.instID, org), SHA256: sum}, s.integ.signer)
}

// SignReport signs, with the log's checkpoint key, the statement that a
// compliance report of org's log has the SHA256SUMS whose SHA-256 is sum
// (tlog.SignReport).
func (s *Store) SignReport(ctx context.Context, org, sum string) ([]byte, error) {
	if err := s.integrityReady(ctx); err != nil {
		return nil, err
	}
	if !validOrg(org) {
		return nil, fmt.Errorf("organization id %q is not valid: %w", org, ErrNotFound)
	}
	if s.integ.signer == nil {
		return nil, fmt.Errorf("this log holds no signing key (an auditor's copy): it cannot sign a report")
	}
	return tlog.SignReport(tlog.ReportStatement{Origin: tlog.Origin(s.integ.instID, org), SHA256: sum}, s.integ.signer)
}

// InstallationID returns the installation id that names this log's origins.
func (s *Store) InstallationID(ctx context.Context) (string, error) {
	if err := s.integrityReady(ctx); err != nil {
		return "", err
	}
	return s.integ.instID, nil
}

func (s *Store) integrityReady(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.integ == nil || s.integ.disabled {
		return errIntegrityDisabled
	}
	return nil
}
