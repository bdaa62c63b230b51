package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

// While the desktop app has a profile open, Badger's directory lock keeps
// other processes out. The desktop app therefore serves the REST API on
// loopback, writes where it listens to <data dir>/api.json (not secret), and
// keeps a per-run local credential in the keychain; the CLI finds both and
// goes through the API instead of failing.

// KeyLocalAPI is the keystore name of the desktop app's local credential.
const KeyLocalAPI = "local-api-token"

const apiFile = "api.json"

type apiEndpoint struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
}

// eventBackend is what the event commands need: the App itself, or the
// desktop app's API.
type eventBackend interface {
	appendEvents(ctx context.Context, events []storage.Event) ([]storage.Receipt, error)
	checkConflicts(ctx context.Context, events []storage.Event) ([]storage.Conflict, error)
	listEvents(ctx context.Context, q QueryDTO) (EventPageDTO, error)
	integrityBackend
}

// RemoteClient talks to a running desktop app's API.
type RemoteClient struct {
	base   string
	secret string
	client *http.Client
}

// DialDesktop returns a client for the desktop app that holds the profile
// in paths, or an error saying why it cannot be reached.
func DialDesktop(ctx context.Context, paths Paths, ks storage.Keystore) (*RemoteClient, error) {
	b, err := os.ReadFile(filepath.Join(paths.DataDir, apiFile))
	if err != nil {
		return nil, fmt.Errorf("the profile is open in another process that serves no API (%v); close it and retry", err)
	}
	var ep apiEndpoint
	if err := json.Unmarshal(b, &ep); err != nil || ep.Addr == "" {
		return nil, fmt.Errorf("%s is unreadable; close the desktop app and retry", filepath.Join(paths.DataDir, apiFile))
	}
	// The local credential opens everything: it goes only to this machine,
	// whatever a file in the data directory says.
	if host, _, err := net.SplitHostPort(ep.Addr); err != nil || !loopbackHost(host) {
		return nil, fmt.Errorf("%s names %q, not an address on this machine: the local credential is not sent there",
			filepath.Join(paths.DataDir, apiFile), ep.Addr)
	}
	secret, err := ks.Get(ctx, KeyLocalAPI)
	if err != nil {
		return nil, fmt.Errorf("failed to read the desktop app's local credential: %w", err)
	}
	return &RemoteClient{base: "http://" + ep.Addr, secret: string(secret), client: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// loopbackHost says whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// ErrNoAnswer: a request reached the desktop app (or serve) and no answer
// came back (it stopped, the connection broke): what it asked may or may
// not have been carried out.
var ErrNoAnswer = errors.New("a request was sent and not answered")

// Addr is where the desktop app listens.
func (r *RemoteClient) Addr() string { return r.base }

func (r *RemoteClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			// Not connected: the request was not sent.
			return fmt.Errorf("the API of the desktop app (or serve) at %s did not answer: %w", r.base, err)
		}
		// Sent, maybe whole: it may have been carried out.
		return fmt.Errorf("the API of the desktop app (or serve) at %s stopped answering: %w: %w", r.base, ErrNoAnswer, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		// The request was carried out, or not: its answer broke off.
		return fmt.Errorf("the answer of the desktop app (or serve) at %s broke off: %w: %w", r.base, ErrNoAnswer, err)
	}
	if resp.StatusCode >= 300 {
		var e ErrorDTO
		if json.Unmarshal(data, &e) != nil || e.Code == "" {
			return fmt.Errorf("the desktop app answered %s", resp.Status)
		}
		return remoteError(e)
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A success whose answer cannot be read: carried out, unknown how.
		return fmt.Errorf("the answer of the desktop app (or serve) at %s cannot be read (%v): %w", r.base, err, ErrNoAnswer)
	}
	return nil
}

// remoteError turns an API error back into the error the local path would
// have returned, so exit codes and messages match.
func remoteError(e ErrorDTO) error {
	sentinel := map[string]error{
		CodeInvalidEvent: storage.ErrInvalidEvent, CodeInvalidCursor: storage.ErrBadCursor, CodeNotFound: storage.ErrNotFound,
		CodeConflict: storage.ErrConflict, CodeKeychainUnavailable: storage.ErrKeychainUnavailable,
		CodeIntegrityAlert: storage.ErrIntegrityAlert, CodeTampered: storage.ErrTampered,
		CodeTooLarge: storage.ErrBatchTooLarge,
	}[e.Code]
	if e.Code == CodeInvalidRequest && len(e.Fields) == 1 {
		return &RequestError{Field: e.Fields[0].Field, Reason: e.Fields[0].Reason}
	}
	if e.Code == CodeInvalidEvent && len(e.Fields) > 0 {
		ve := &storage.ValidationError{}
		if i := e.Fields[0].Index; i != nil {
			ve.Index = *i
		}
		for _, f := range e.Fields {
			ve.Errors = append(ve.Errors, storage.FieldError{Field: f.Field, Reason: f.Reason})
		}
		return ve
	}
	if sentinel != nil {
		ae := &apiError{msg: e.Message, sentinel: sentinel, index: -1}
		if e.Code == CodeConflict {
			for _, f := range e.Fields {
				if f.Index != nil {
					ae.conflicts = append(ae.conflicts, *f.Index)
				}
			}
			if len(ae.conflicts) > 0 {
				ae.index = ae.conflicts[0]
			}
		}
		return ae
	}
	return errors.New(e.Message)
}

func (r *RemoteClient) appendEvents(ctx context.Context, events []storage.Event) ([]storage.Receipt, error) {
	body, err := marshalBody(events)
	if err != nil {
		return nil, err
	}
	var out []ReceiptDTO
	if err := r.do(ctx, http.MethodPost, "/api/operations/events", body, &out); err != nil {
		return nil, err
	}
	receipts := make([]storage.Receipt, len(out))
	for i, o := range out {
		t, _ := time.Parse(time.RFC3339Nano, o.RecordedAt)
		receipts[i] = storage.Receipt{ID: o.ID, OrganizationID: o.OrganizationID, Seq: o.Seq, RecordedAt: t}
	}
	return receipts, nil
}

func (r *RemoteClient) checkConflicts(ctx context.Context, events []storage.Event) ([]storage.Conflict, error) {
	body, err := marshalBody(events)
	if err != nil {
		return nil, err
	}
	var out CheckDTO
	err = r.do(ctx, http.MethodPost, checkEventsPath, body, &out)
	var ae *apiError
	if errors.As(err, &ae) && ae.sentinel == storage.ErrConflict && len(ae.conflicts) > 0 {
		return conflictsAt(events, ae.conflicts)
	}
	if err != nil {
		return nil, err
	}
	if out.Checked != len(events) {
		return nil, fmt.Errorf("the desktop app checked %d of %d events: is it an older version? Close it and retry", out.Checked, len(events))
	}
	return nil, nil
}

// conflictsAt is the storage.Conflict list of events whose conflicting
// events are at indexes (in order, as the API lists them): each conflicts
// with the first earlier event of its id that does not conflict itself,
// or with the log when there is none (the rule of storage.CheckConflicts).
func conflictsAt(events []storage.Event, indexes []int) ([]storage.Conflict, error) {
	key := func(e storage.Event) string { return e.OrganizationID + "\x00" + e.ID }
	bad := map[int]bool{}
	for _, i := range indexes {
		if i < 0 || i >= len(events) {
			return nil, fmt.Errorf("the desktop app named event %d of a batch of %d as conflicting", i, len(events))
		}
		bad[i] = true
	}
	first := map[string]int{}
	for i, e := range events {
		if _, ok := first[key(e)]; !ok && !bad[i] && e.ID != "" {
			first[key(e)] = i
		}
	}
	cs := make([]storage.Conflict, len(indexes))
	for k, i := range indexes {
		cs[k] = storage.Conflict{Index: i, Earlier: -1}
		if j, ok := first[key(events[i])]; ok && j < i {
			cs[k].Earlier = j
		}
	}
	return cs, nil
}

// marshalBody encodes v as a request body: JSON without HTML escaping,
// which would turn each <, > and & of a state into six bytes and could
// take a batch within MaxRequestBody over it.
func marshalBody(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (r *RemoteClient) listEvents(ctx context.Context, q QueryDTO) (EventPageDTO, error) {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("org", q.Org)
	set("since", q.Since)
	set("until", q.Until)
	set("resource", q.ResourceID)
	set("resourcePrefix", q.ResourceIDPrefix)
	set("text", q.Text)
	set("order", q.Order)
	set("cursor", q.Cursor)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	for k, list := range map[string][]string{
		"category": q.Categories, "action": q.ActionTypes, "provider": q.Providers, "user": q.UserIDs,
		"status": q.Statuses, "risk": q.RiskLevels, "notCategory": q.NotCategories, "notAction": q.NotActionTypes,
		"notProvider": q.NotProviders, "notUser": q.NotUserIDs, "notStatus": q.NotStatuses, "notRisk": q.NotRiskLevels,
	} {
		for _, x := range list {
			v.Add(k, x)
		}
	}
	var out EventPageDTO
	err := r.do(ctx, http.MethodGet, "/api/operations/events?"+v.Encode(), nil, &out)
	return out, err
}

func (r *RemoteClient) latestCheckpoint(ctx context.Context, org string) (CheckpointDTO, error) {
	var out CheckpointDTO
	err := r.do(ctx, http.MethodGet, "/api/checkpoints/latest?"+url.Values{"org": {org}}.Encode(), nil, &out)
	return out, err
}

func (r *RemoteClient) checkpoint(ctx context.Context, org string, size uint64) (CheckpointDTO, error) {
	if size == 0 {
		return r.latestCheckpoint(ctx, org)
	}
	var out CheckpointDTO
	err := r.do(ctx, http.MethodGet, fmt.Sprintf("/api/checkpoints/%d?", size)+url.Values{"org": {org}}.Encode(), nil, &out)
	return out, err
}

func (r *RemoteClient) organizations(ctx context.Context) ([]OrganizationDTO, error) {
	var out []OrganizationDTO
	err := r.do(ctx, http.MethodGet, "/api/organizations", nil, &out)
	return out, err
}

func (r *RemoteClient) rotateDataKey(ctx context.Context, org string) (KeyRotationDTO, error) {
	var out KeyRotationDTO
	err := r.do(ctx, http.MethodPost, "/api/organizations/"+url.PathEscape(org)+"/keys/rotate", nil, &out)
	return out, err
}

func (r *RemoteClient) copyForAudit(ctx context.Context, dir string, orgs []string) (AuditCopyDTO, error) {
	body, err := json.Marshal(AuditCopyRequest{Dir: dir, Orgs: orgs})
	if err != nil {
		return AuditCopyDTO{}, err
	}
	var out AuditCopyDTO
	err = r.do(ctx, http.MethodPost, "/api/audit-copies", body, &out)
	return out, err
}

func (r *RemoteClient) revokeToken(ctx context.Context, id string) (TokenDTO, error) {
	var out TokenDTO
	err := r.do(ctx, http.MethodPost, "/api/tokens/"+url.PathEscape(id)+"/revoke", nil, &out)
	return out, err
}

func (r *RemoteClient) publicKey(ctx context.Context) (string, error) {
	var out PublicKeyDTO
	err := r.do(ctx, http.MethodGet, "/api/checkpoints/public-key", nil, &out)
	return out.PublicKey, err
}

func (r *RemoteClient) eventProof(ctx context.Context, org, id string, treeSize uint64) (InclusionProofDTO, error) {
	v := url.Values{"org": {org}}
	if treeSize > 0 {
		v.Set("treeSize", strconv.FormatUint(treeSize, 10))
	}
	var out InclusionProofDTO
	err := r.do(ctx, http.MethodGet, "/api/operations/events/"+url.PathEscape(id)+"/proof?"+v.Encode(), nil, &out)
	return out, err
}

func (r *RemoteClient) consistencyProof(ctx context.Context, org string, size1, size2 uint64) (ConsistencyProofDTO, error) {
	v := url.Values{"org": {org}, "from": {strconv.FormatUint(size1, 10)}, "to": {strconv.FormatUint(size2, 10)}}
	var out ConsistencyProofDTO
	err := r.do(ctx, http.MethodGet, "/api/checkpoints/consistency?"+v.Encode(), nil, &out)
	return out, err
}

// verify runs the verification in the desktop app. Its answer lists the
// first 1,000 problems; when there were more, the last problem passed on
// says how many are missing and how to see them all.
func (r *RemoteClient) verify(ctx context.Context, req VerifyRequest, _ func(VerifyProgressDTO), problem func(VerifyProblemDTO)) (VerifyResultDTO, error) {
	v := url.Values{}
	if req.Org != "" {
		v.Set("org", req.Org)
	}
	if req.Keyless {
		v.Set("keyless", "true")
	}
	var out VerifyResultDTO
	if err := r.do(ctx, http.MethodPost, "/api/verify?"+v.Encode(), nil, &out); err != nil {
		return out, err
	}
	if problem != nil {
		for _, p := range out.Problems {
			problem(p)
		}
		if out.Truncated {
			problem(VerifyProblemDTO{Org: req.Org, Kind: "truncated", Detail: fmt.Sprintf(
				"%d more problems not listed by the desktop app's API; close the app and run verify again to list them all",
				out.ProblemCount-uint64(len(out.Problems)))})
		}
	}
	return out, nil
}

// startLocalAPI serves the REST API for other local programs while the
// desktop app runs: on DefaultAddr when free, else on a free loopback port.
// It returns a function that stops it and removes api.json.
func (a *App) startLocalAPI(ctx context.Context) (stop func(), err error) {
	if a.opts.Keystore == nil || a.store == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", DefaultAddr)
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("failed to listen on loopback: %w", err)
		}
	}
	secret, withdraw, err := a.advertiseLocalAPI(ctx, ln.Addr().String())
	if err != nil {
		ln.Close()
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := a.serve(sctx, ln, ServeOptions{Addr: ln.Addr().String(), LocalSecret: secret}, nil)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("local API stopped", "err", err)
		}
	}()
	a.log.Info("local API listening", "addr", ln.Addr().String())
	return func() {
		cancel()
		<-done
		withdraw()
	}, nil
}

// advertiseLocalAPI tells the CLI of this profile where the API that holds
// it listens: a fresh credential in the keystore and <dataDir>/api.json
// with the address. withdraw removes api.json again.
func (a *App) advertiseLocalAPI(ctx context.Context, addr string) (secret string, withdraw func(), err error) {
	secret = randomToken(48)
	if err := a.opts.Keystore.Set(ctx, KeyLocalAPI, []byte(secret)); err != nil {
		return "", nil, fmt.Errorf("failed to keep the local API credential in the keystore: %w", err)
	}
	path := filepath.Join(a.opts.Paths.DataDir, apiFile)
	b, _ := json.Marshal(apiEndpoint{Addr: addr, PID: os.Getpid()})
	if err := writeFileAtomic(path, b, 0o600); err != nil {
		return "", nil, err
	}
	return secret, func() { os.Remove(path) }, nil
}

// writeFileAtomic writes data to path through a temporary file and a rename,
// so a reader never sees half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
