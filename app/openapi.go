package app

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the REST API's contract (OpenAPI 3.1).
//
//go:embed openapi.json
var openAPIDocument []byte

func (s *api) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(openAPIDocument)
}
