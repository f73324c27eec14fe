package server

import "time"

// HoldContentLocks takes the locks of the content path (the edit lock and
// the compilation lock) as a long edit would, until release is called.
func HoldContentLocks(s *Server) (release func()) {
	s.editMu.Lock()
	s.compMu.Lock()
	return func() {
		s.compMu.Unlock()
		s.editMu.Unlock()
	}
}

// SetPlayerPingInterval makes the server ping its player sessions every d.
func SetPlayerPingInterval(s *Server, d time.Duration) { s.hub.SetPingInterval(d) }
