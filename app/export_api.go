package app

// exportRoutes are the evidence-export endpoints (see export.go).
func (s *api) exportRoutes() []route { return nil }
