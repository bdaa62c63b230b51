package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// integrityRoutes are the proof, checkpoint and verification endpoints.
func (s *api) integrityRoutes() []route {
	return []route{
		{"GET", "/api/operations/events/{id}/proof", s.auth(s.eventProof)},
		{"GET", "/api/checkpoints/latest", s.auth(s.latestCheckpoint)},
		{"GET", "/api/checkpoints/{size}", s.auth(s.checkpointOfSize)},
		{"GET", "/api/checkpoints/consistency", s.auth(s.consistencyProof)},
		{"GET", "/api/checkpoints/public-key", s.auth(s.publicKey)},
		{"POST", "/api/verify", s.auth(s.verify)},
		{"GET", "/api/verify/stream", s.auth(s.verifyStream)},
	}
}

// uintParam reads an optional non-negative integer query parameter.
func uintParam(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &RequestError{Field: name, Reason: fmt.Sprintf("%q is not a non-negative integer", v)}
	}
	return n, nil
}

func (s *api) eventProof(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	size, err := uintParam(r, "treeSize")
	if err != nil {
		s.fail(w, err)
		return
	}
	proof, err := s.app.eventProof(r.Context(), org, r.PathValue("id"), size)
	s.reply(w, proof, err)
}

func (s *api) latestCheckpoint(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	cp, err := s.app.latestCheckpoint(r.Context(), org)
	s.reply(w, cp, err)
}

// checkpointOfSize answers the stored signed checkpoint of a tree size.
func (s *api) checkpointOfSize(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	size, err := strconv.ParseUint(r.PathValue("size"), 10, 64)
	if err != nil || size == 0 {
		s.fail(w, &RequestError{Field: "size", Reason: fmt.Sprintf("%q is not a tree size (a positive number)", r.PathValue("size"))})
		return
	}
	cp, err := s.app.checkpoint(r.Context(), org, size)
	s.reply(w, cp, err)
}

func (s *api) publicKey(w http.ResponseWriter, r *http.Request, _ principal) {
	key, err := s.app.publicKey(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, PublicKeyDTO{PublicKey: key})
}

func (s *api) consistencyProof(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	from, err := uintParam(r, "from")
	if err != nil {
		s.fail(w, err)
		return
	}
	to, err := uintParam(r, "to")
	if err != nil {
		s.fail(w, err)
		return
	}
	if r.URL.Query().Get("to") == "" {
		s.fail(w, &RequestError{Field: "to", Reason: "is required"})
		return
	}
	proof, err := s.app.consistencyProof(r.Context(), org, from, to)
	s.reply(w, proof, err)
}

// verify runs a verification of one organization (a token's) or, for the
// local user, of every organization when org is empty.
func (s *api) verify(w http.ResponseWriter, r *http.Request, p principal) {
	org := r.URL.Query().Get("org")
	if org == "" && !p.session {
		s.fail(w, &RequestError{Field: "org", Reason: "is required: a token verifies its own organization"})
		return
	}
	if org != "" && !p.canRead(org) {
		s.notVisible(w, p, org)
		return
	}
	keyless, err := boolParam(r, "keyless")
	if err != nil {
		s.fail(w, err)
		return
	}
	// Verification of a large log outlives the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	res, err := s.app.verify(r.Context(), VerifyRequest{Org: org, Keyless: keyless}, nil, nil)
	s.reply(w, res, err)
}

func boolParam(r *http.Request, name string) (bool, error) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	default:
		return false, &RequestError{Field: name, Reason: fmt.Sprintf("%q is not true or false", v)}
	}
}

// verifyStream sends the progress of verifications of org as server-sent
// events ("progress", data VerifyProgressDTO) until the client leaves; a
// run's last message has finished set. Open it before POST /api/verify.
func (s *api) verifyStream(w http.ResponseWriter, r *http.Request, p principal) {
	org, ok := s.readableOrg(w, r, p)
	if !ok {
		return
	}
	ch, stop := s.app.verifyProgress.subscribe(org)
	defer stop()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": subscribed\n\n")
	_ = rc.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	var last time.Time
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			_ = rc.Flush()
		case pr := <-ch:
			// At most ten a second, but always the last of a run.
			if now := time.Now(); !pr.Finished && pr.Done != pr.Total && now.Sub(last) < progressInterval {
				continue
			} else {
				last = now
			}
			b, err := json.Marshal(pr)
			if err != nil {
				return
			}
			if _, err := fmt.Fprintf(w, "event: progress\ndata: %s\n\n", b); err != nil {
				return
			}
			_ = rc.Flush()
		}
	}
}
