package app

// syncRoutes are the sync status and control endpoints (see sync.go).
func (s *api) syncRoutes() []route { return nil }
