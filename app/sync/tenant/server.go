package tenant

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	gosync "sync"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/storage/tlog"
)

// Server is an in-memory tenant speaking the protocol of openapi.json: the
// reference for implementers and the receiver of the tests and benchmarks.
// It stores each organization's events by seq, acknowledges the highest
// contiguous seq and, when VerifierKey and Origin are set, witnesses
// checkpoints: a new checkpoint must verify and be proved consistent with
// the one it holds, or the batch is refused with 409 "inconsistent".
type Server struct {
	Token       string
	VerifierKey string
	Origin      func(org string) string
	// MaxBodyBytes bounds a compressed batch (default 64 MiB).
	MaxBodyBytes int64

	mu   gosync.Mutex
	orgs map[string]*serverOrg
	// Deliveries counts accepted requests; Duplicates events received again.
	Deliveries, Duplicates int
}

type serverOrg struct {
	lines      map[uint64]axsync.Line
	highest    uint64
	checkpoint []byte
	cp         tlog.Checkpoint
}

// NewServer returns a Server accepting token.
func NewServer(token string) *Server { return &Server{Token: token} }

func (s *Server) org(org string) *serverOrg {
	if s.orgs == nil {
		s.orgs = map[string]*serverOrg{}
	}
	o := s.orgs[org]
	if o == nil {
		o = &serverOrg{lines: map[uint64]axsync.Line{}}
		s.orgs[org] = o
	}
	return o
}

// Lines returns org's stored events in seq order.
func (s *Server) Lines(org string) []axsync.Line {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org)
	out := make([]axsync.Line, 0, len(o.lines))
	for seq := uint64(1); seq <= o.highest; seq++ {
		out = append(out, o.lines[seq])
	}
	return out
}

// HighestSeq is what the Server acknowledges for org.
func (s *Server) HighestSeq(org string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.org(org).highest
}

// Forget drops org's events above seq, as a tenant restored from an old
// backup would: its next acknowledgement goes backwards.
func (s *Server) Forget(org string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org)
	for k := range o.lines {
		if k > seq {
			delete(o.lines, k)
		}
	}
	o.highest = min(o.highest, seq)
}

// SetCheckpoint makes the Server hold note as org's witnessed checkpoint.
func (s *Server) SetCheckpoint(org string, note []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.org(org).checkpoint = note
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorResponse{Code: code, Message: msg})
}

// ServeHTTP implements POST /v1/orgs/{org}/batches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/orgs/")
	org, tail, _ := strings.Cut(rest, "/")
	if !ok || tail != "batches" || org == "" {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "POST only")
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) != 1 {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
		return
	}
	limit := s.MaxBodyBytes
	if limit <= 0 {
		limit = 64 << 20
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error())
		return
	}
	var body io.Reader = bytes.NewReader(raw)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "body is not gzip")
			return
		}
		body = zr
	}
	lines, err := axsync.ReadJSONLines(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not JSON Lines: "+err.Error())
		return
	}
	for i, l := range lines {
		if l.Org != org || l.Seq == 0 || l.ID == "" || (i > 0 && l.Seq != lines[i-1].Seq+1) {
			writeError(w, http.StatusBadRequest, "bad_request", "line "+strconv.Itoa(i+1)+": wrong organization, or seqs not consecutive")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.org(org)
	if err := s.witness(o, org, r.Header); err != nil {
		writeError(w, http.StatusConflict, "inconsistent", err.Error())
		return
	}
	s.Deliveries++
	// Store what continues the contiguous run; a batch after a gap is not
	// stored, and the acknowledgement tells the client where to resume.
	for _, l := range lines {
		if old, ok := o.lines[l.Seq]; ok {
			if old.ID != l.ID {
				writeError(w, http.StatusConflict, "conflict", "seq "+strconv.FormatUint(l.Seq, 10)+" was stored with another id")
				return
			}
			s.Duplicates++
			continue
		}
		if l.Seq != o.highest+1 {
			continue
		}
		o.lines[l.Seq] = l
		o.highest = l.Seq
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(AckResponse{Org: org, HighestSeq: o.highest, Checkpoint: string(o.checkpoint)})
}

// witness checks and keeps the batch's checkpoint; s.mu is held.
func (s *Server) witness(o *serverOrg, org string, h http.Header) error {
	enc := h.Get("X-Axiom-Checkpoint")
	if enc == "" {
		return nil
	}
	note, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return err
	}
	if s.VerifierKey == "" || s.Origin == nil {
		o.checkpoint = note
		return nil
	}
	cp, err := tlog.OpenCheckpoint(note, s.VerifierKey, s.Origin(org))
	if err != nil {
		return err
	}
	if o.cp.Size > 0 {
		from, _ := strconv.ParseUint(h.Get("X-Axiom-Consistency-From"), 10, 64)
		var proof [][]byte
		if p := h.Get("X-Axiom-Consistency-Proof"); p != "" {
			for part := range strings.SplitSeq(p, ",") {
				b, err := base64.StdEncoding.DecodeString(part)
				if err != nil {
					return err
				}
				proof = append(proof, b)
			}
		}
		switch {
		case cp.Size < o.cp.Size:
			return errInconsistent("the checkpoint is smaller than the one witnessed")
		case cp.Size == o.cp.Size && cp.Root != o.cp.Root:
			return errInconsistent("the checkpoint has the witnessed size but another root")
		case cp.Size > o.cp.Size && from == o.cp.Size:
			if err := tlog.VerifyConsistency(o.cp.Size, cp.Size, proof, o.cp.Root, cp.Root); err != nil {
				return errInconsistent(err.Error())
			}
		case cp.Size > o.cp.Size:
			return nil // proved from another size: keep the held one, acknowledge it
		}
	}
	o.cp, o.checkpoint = cp, note
	return nil
}

type errInconsistent string

func (e errInconsistent) Error() string { return string(e) }
