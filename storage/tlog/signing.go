package tlog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// KeyName returns the note key name of an installation:
// "axiom-audit/<installationID>". Every origin of the installation starts
// with it followed by "/".
func KeyName(installationID string) string { return "axiom-audit/" + installationID }

func checkKeyName(name string) error {
	if name == "" || !utf8.ValidString(name) || strings.ContainsRune(name, '+') ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("%w: key name %q must be non-empty UTF-8 without spaces or '+'", ErrInvalidKey, name)
	}
	return nil
}

// GenerateSigningKey returns a new Ed25519 signed-note key pair: skey, the
// secret "PRIVATE+KEY+<name>+<hash>+<key>" text kept in the keychain, and
// vkey, the public verifier key "<name>+<hash>+<key>" stored in the log and
// in every export.
func GenerateSigningKey(name string) (skey, vkey string, err error) {
	if err := checkKeyName(name); err != nil {
		return "", "", err
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("failed to generate a signing key: %w", err)
	}
	return skey, vkey, nil
}

// NewSigner parses a secret key written by GenerateSigningKey.
func NewSigner(skey string) (note.Signer, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		// The error names no part of the key, so it is safe to wrap.
		return nil, fmt.Errorf("%w: signer key: %w", ErrInvalidKey, err)
	}
	return s, nil
}

// VerifierKey derives the public verifier key from a secret key written by
// GenerateSigningKey, for a store that keeps only the secret.
func VerifierKey(skey string) (string, error) {
	if _, err := NewSigner(skey); err != nil {
		return "", err
	}
	// NewSigner checked the layout PRIVATE+KEY+<name>+<hash>+<base64 key>;
	// the name has no '+', the base64 key may.
	rest := strings.TrimPrefix(skey, "PRIVATE+KEY+")
	name, rest, _ := strings.Cut(rest, "+")
	_, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return "", fmt.Errorf("%w: signer key is not an Ed25519 seed", ErrInvalidKey)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return vkey, nil
}

// Sign returns the signed note of a checkpoint: its body, a blank line, and
// one signature line "— <key name> <base64(key hash || Ed25519 signature)>".
// The signer's key name followed by "/" must prefix the origin, so one
// installation's key cannot sign another installation's logs. Signing is
// deterministic: the same checkpoint and key give the same bytes.
func Sign(cp Checkpoint, signer note.Signer) ([]byte, error) {
	body, err := cp.Marshal()
	if err != nil {
		return nil, err
	}
	return signBody(body, cp.Origin, signer, "checkpoint")
}

// signBody signs the note body of origin's log (what, for errors), if the
// signer's key owns origin: its name followed by "/" prefixes it.
func signBody(body []byte, origin string, signer note.Signer, what string) ([]byte, error) {
	if !strings.HasPrefix(origin, signer.Name()+"/") {
		return nil, fmt.Errorf("%w: key %q cannot sign origin %q", ErrWrongOrigin, signer.Name(), origin)
	}
	msg, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		return nil, fmt.Errorf("failed to sign %s: %w", what, err)
	}
	return msg, nil
}

// CopiedNote undoes what copying a signed note as text may do to it: line
// ends turned into CRLF (Windows) and the final newline dropped (an editor
// or a clipboard). A signed note has neither, so the result is the note as
// signed when only that happened; any other change still fails to verify.
func CopiedNote(text []byte) []byte {
	text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	return text
}

// OpenCheckpoint verifies a signed checkpoint note against the verifier key
// vkey and the expected origin, and returns the checkpoint. Each failure names
// its check: ErrInvalidKey (vkey unusable), ErrMalformedCheckpoint (note or
// body syntax), ErrUnknownKey (no signature by vkey), ErrBadSignature (the
// signature by vkey does not verify, or is not canonically encoded) and
// ErrWrongOrigin (another log, or an origin outside the key's name).
// Signatures by other keys, such as witness cosignatures, are ignored.
func OpenCheckpoint(noteText []byte, vkey, origin string) (Checkpoint, error) {
	text, v, err := openNote(noteText, vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	cp, err := ParseCheckpoint([]byte(text))
	if err != nil {
		return Checkpoint{}, err
	}
	if err := checkSignedOrigin(cp.Origin, origin, v); err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

// checkSignedOrigin checks that a note signed by v names the origin
// wanted, and that the origin is one of v's key (its name and "/").
func checkSignedOrigin(got, want string, v note.Verifier) error {
	if got != want {
		return fmt.Errorf("%w: got %q, want %q", ErrWrongOrigin, got, want)
	}
	if !strings.HasPrefix(got, v.Name()+"/") {
		return fmt.Errorf("%w: origin %q is outside key %q", ErrWrongOrigin, got, v.Name())
	}
	return nil
}

// openNote verifies that noteText carries exactly one signature by vkey,
// valid and canonically encoded, and returns the note's text and vkey's
// verifier. Errors are those of OpenCheckpoint: ErrInvalidKey,
// ErrMalformedCheckpoint, ErrUnknownKey, ErrBadSignature.
func openNote(noteText []byte, vkey string) (string, note.Verifier, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "", nil, fmt.Errorf("%w: verifier key %.80q: %w", ErrInvalidKey, vkey, err)
	}
	n, err := note.Open(noteText, note.VerifierList(v))
	if err != nil {
		var invalid *note.InvalidSignatureError
		var unverified *note.UnverifiedNoteError
		switch {
		case errors.As(err, &invalid):
			return "", nil, fmt.Errorf("%w: %w", ErrBadSignature, err)
		case errors.As(err, &unverified):
			return "", nil, fmt.Errorf("%w: want a signature by %s+%08x", ErrUnknownKey, v.Name(), v.KeyHash())
		default:
			return "", nil, fmt.Errorf("%w: signed note: %w", ErrMalformedCheckpoint, err)
		}
	}
	// Go's base64 decoder accepts non-zero padding bits, so two texts can
	// carry one signature; accept only the canonical one so that every change
	// to the note text is detected.
	for _, s := range n.Sigs {
		raw, _ := base64.StdEncoding.DecodeString(s.Base64)
		if base64.StdEncoding.EncodeToString(raw) != s.Base64 {
			return "", nil, fmt.Errorf("%w: signature by %s is not canonically encoded", ErrBadSignature, s.Name)
		}
	}
	// note.Open checks one signature per key and drops the key's others
	// unchecked: a second line by vkey's key would be text no one verified.
	if k := keySignatures(noteText, v.Name(), v.KeyHash()); k != 1 {
		return "", nil, fmt.Errorf("%w: %d signature lines by %s+%08x, want 1", ErrBadSignature, k, v.Name(), v.KeyHash())
	}
	return n.Text, v, nil
}

// keySignatures counts the signature lines of a signed note (those after
// its last blank line) that name the key name with hash keyHash.
func keySignatures(noteText []byte, name string, keyHash uint32) int {
	i := bytes.LastIndex(noteText, []byte("\n\n"))
	if i < 0 {
		return 0
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSuffix(string(noteText[i+2:]), "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "\u2014 "+name+" ")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err == nil && len(raw) >= 4 && binary.BigEndian.Uint32(raw) == keyHash {
			n++
		}
	}
	return n
}
