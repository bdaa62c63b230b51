package webhook_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/axiomops/axiom-audit/app/sync/webhook"
)

// A receiver checks the signature over the raw body, as received, before
// decompressing or parsing it.
func ExampleVerify() {
	secret := []byte("whsec_from_your_vault")
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
		if err != nil {
			http.Error(w, "cannot read the body", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), raw, time.Now(), webhook.DefaultTolerance); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized) // a 4xx stops the sender: fix the secret, then run-now
			return
		}
		// gunzip raw when Content-Encoding is gzip, then store each event
		// once per (org, seq, id).
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"org":"acme","seq":1}` + "\n")
	req := httptest.NewRequest(http.MethodPost, "/axiom", strings.NewReader(string(body)))
	req.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, time.Now(), body))
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	fmt.Println(rec.Code)

	forged := httptest.NewRequest(http.MethodPost, "/axiom", strings.NewReader(`{"org":"acme","seq":2}`+"\n"))
	forged.Header.Set(webhook.SignatureHeader, webhook.Sign(secret, time.Now(), body)) // another body's signature
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, forged)
	fmt.Println(rec.Code)
	// Output:
	// 204
	// 401
}
