package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// Token scopes.
const (
	ScopeRead   = "read"
	ScopeAppend = "append"
)

// MaxBreakGlass is the longest a break-glass grant may last.
const MaxBreakGlass = 24 * time.Hour

// tokenPrefix starts every API token, so that secret scanners and people
// recognise one.
const tokenPrefix = "axa_"

// TokenDTO describes an API token. The secret itself is shown once, at
// creation, and stored only as its SHA-256.
type TokenDTO struct {
	ID         string `json:"id"`
	Org        string `json:"org"`
	Scope      string `json:"scope"`
	CreatedAt  string `json:"createdAt"`
	CreatedBy  string `json:"createdBy"`
	ExpiresAt  string `json:"expiresAt,omitempty"`
	RevokedAt  string `json:"revokedAt,omitempty"`
	BreakGlass bool   `json:"breakGlass,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// States: the token may read decrypted beforeState/afterState (and
	// export them). Without it a read token sees their commitments only.
	States bool `json:"states,omitempty"`
}

// tokenRecord is what the store keeps per token.
type tokenRecord struct {
	TokenDTO
	Hash string `json:"hash"` // hex SHA-256 of the whole token string
}

// TokenRequest asks for a new token.
type TokenRequest struct {
	Org        string
	Scope      string
	Expires    time.Duration // 0: never (not allowed for break-glass)
	BreakGlass bool
	Reason     string
	// States lets a read token see decrypted states (--include-sensitive).
	States bool
	// NewOrg allows an organization with no events yet (--new-org): a
	// producer's append token made before its first event. Otherwise the
	// organization must exist, since recording the token would make a typo
	// an organization.
	NewOrg bool
}

// CreatedToken is a new token: its description and, once, its secret.
type CreatedToken struct {
	TokenDTO
	Token string `json:"token"`
}

func tokenSettingName(id string) string { return "token/" + id }

// createToken mints a token, stores its hash and audits it. A break-glass
// token must have a reason and expire within MaxBreakGlass.
func (a *App) createToken(ctx context.Context, req TokenRequest) (CreatedToken, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return CreatedToken{}, err
	}
	if req.Org == "" {
		return CreatedToken{}, &RequestError{Field: "--org", Reason: "is required: a token is scoped to one organization"}
	}
	if !validOrgID(req.Org) {
		return CreatedToken{}, &RequestError{Field: "--org", Reason: fmt.Sprintf("%q is not an organization id", req.Org)}
	}
	if req.Scope != ScopeRead && req.Scope != ScopeAppend {
		return CreatedToken{}, &RequestError{Field: "--scope", Reason: fmt.Sprintf("%q is not read or append", req.Scope)}
	}
	if req.States && req.Scope != ScopeRead {
		return CreatedToken{}, &RequestError{Field: "--include-sensitive", Reason: "is for read tokens: an append token reads nothing"}
	}
	if req.Scope == ScopeAppend && req.Org == SystemOrg {
		return CreatedToken{}, &RequestError{Field: "--org", Reason: systemOrgReason}
	}
	if req.Expires < 0 {
		return CreatedToken{}, &RequestError{Field: "--expires", Reason: "must be positive"}
	}
	if !req.NewOrg {
		if err := a.requireOrg(ctx, req.Org); errors.Is(err, storage.ErrNotFound) {
			orgs, lerr := a.organizations(ctx)
			if lerr != nil {
				return CreatedToken{}, err
			}
			ids, _ := otherOrgs(orgs, req.Org)
			return CreatedToken{}, &explainedError{msg: unknownOrgError(req.Org, ids).Error() +
				"; to make a token for an organization whose first events are still to come, add --new-org", sentinel: storage.ErrNotFound}
		} else if err != nil {
			return CreatedToken{}, err
		}
	}
	if req.BreakGlass {
		if strings.TrimSpace(req.Reason) == "" {
			return CreatedToken{}, &RequestError{Field: "--reason", Reason: "is required for break-glass access"}
		}
		if req.Expires == 0 || req.Expires > MaxBreakGlass {
			return CreatedToken{}, &RequestError{Field: "--expires", Reason: "break-glass access must expire within 24h"}
		}
		if req.Scope != ScopeRead {
			return CreatedToken{}, &RequestError{Field: "--scope", Reason: "break-glass access is read-only"}
		}
	}
	idb := make([]byte, 6)
	secret := make([]byte, 32)
	rand.Read(idb)
	rand.Read(secret)
	id := hex.EncodeToString(idb)
	token := tokenPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(secret)
	now := a.opts.Now().UTC()
	rec := tokenRecord{TokenDTO: TokenDTO{
		ID: id, Org: req.Org, Scope: req.Scope, CreatedAt: formatTime(now), CreatedBy: a.opts.User,
		BreakGlass: req.BreakGlass, Reason: req.Reason, States: req.States,
	}, Hash: hashToken(token)}
	if req.Expires > 0 {
		rec.ExpiresAt = formatTime(now.Add(req.Expires))
	}
	// Audit first: a token the log could not record must not exist.
	meta := map[string]any{"tokenId": id, "scopes": []string{req.Scope}}
	if rec.ExpiresAt != "" {
		meta["expiresAt"] = rec.ExpiresAt
	}
	action := "audit.token_created"
	if req.BreakGlass {
		action = "audit.break_glass_granted"
		meta = map[string]any{"reason": req.Reason, "expiresAt": rec.ExpiresAt, "grantee": "token:" + id}
	}
	if req.States {
		meta["includesStates"] = true
	}
	if err := a.recordSelf(ctx, req.Org, action, meta); err != nil {
		return CreatedToken{}, err
	}
	if err := a.saveToken(ctx, st, rec); err != nil {
		return CreatedToken{}, err
	}
	return CreatedToken{TokenDTO: rec.TokenDTO, Token: token}, nil
}

func (a *App) saveToken(ctx context.Context, st *storage.Store, rec tokenRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := st.WriteSetting(ctx, tokenSettingName(rec.ID), b); err != nil {
		return fmt.Errorf("failed to save token %s: %w", rec.ID, err)
	}
	return nil
}

// listTokens returns every token, revoked and expired ones included.
func (a *App) listTokens(ctx context.Context) ([]TokenDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return nil, err
	}
	out := []TokenDTO{}
	err = st.ScanSettings(ctx, "token/", func(_ string, v []byte) error {
		var rec tokenRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("a stored token is unreadable: %w", err)
		}
		out = append(out, rec.TokenDTO)
		return nil
	})
	return out, err
}

// revokeToken marks a token revoked (its record stays, for the audit
// trail) and audits the revocation.
func (a *App) revokeToken(ctx context.Context, id string) (TokenDTO, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return TokenDTO{}, err
	}
	rec, err := a.loadToken(ctx, id)
	if err != nil {
		return TokenDTO{}, err
	}
	if rec.RevokedAt != "" {
		return rec.TokenDTO, nil
	}
	if err := a.recordSelf(ctx, rec.Org, "audit.token_revoked", map[string]any{"tokenId": id}); err != nil {
		return TokenDTO{}, err
	}
	rec.RevokedAt = formatTime(a.opts.Now())
	return rec.TokenDTO, a.saveToken(ctx, st, rec)
}

func (a *App) loadToken(ctx context.Context, id string) (tokenRecord, error) {
	st, err := a.storeOrErr()
	if err != nil {
		return tokenRecord{}, err
	}
	b, err := st.ReadSetting(ctx, tokenSettingName(id))
	if errors.Is(err, storage.ErrNotFound) {
		return tokenRecord{}, fmt.Errorf("token %q: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return tokenRecord{}, err
	}
	var rec tokenRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return tokenRecord{}, fmt.Errorf("token %q is unreadable: %w", id, err)
	}
	return rec, nil
}

// errBadToken is deliberately vague: a caller learns nothing about which
// part of a token was wrong.
var errBadToken = errors.New("missing, unknown, expired or revoked token")

// authenticate resolves a bearer token to its record.
func (a *App) authenticate(ctx context.Context, token string) (tokenRecord, error) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return tokenRecord{}, errBadToken
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 {
		return tokenRecord{}, errBadToken
	}
	rec, err := a.loadToken(ctx, id)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return tokenRecord{}, errBadToken
		}
		return tokenRecord{}, err
	}
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(hashToken(token))) != 1 || rec.RevokedAt != "" {
		return tokenRecord{}, errBadToken
	}
	if rec.ExpiresAt != "" {
		exp, err := time.Parse(time.RFC3339Nano, rec.ExpiresAt)
		if err != nil || !a.opts.Now().Before(exp) {
			return tokenRecord{}, errBadToken
		}
	}
	return rec, nil
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func validOrgID(org string) bool {
	if org == "" || len(org) > 128 {
		return false
	}
	for i, r := range org {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '.' || r == '_' || r == '-'))
		if !ok {
			return false
		}
	}
	return true
}
