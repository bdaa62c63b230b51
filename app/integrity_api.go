package app

import "net/http"

// integrityRoutes adds the proof, checkpoint and verification endpoints.
func (s *api) integrityRoutes(mux *http.ServeMux) {}
