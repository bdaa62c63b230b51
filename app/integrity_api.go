package app

// integrityRoutes are the proof, checkpoint and verification endpoints.
func (s *api) integrityRoutes() []route { return nil }
