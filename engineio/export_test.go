package engineio

// Parked reports whether the websocket carrying s is parked in the poller
// (no goroutine reads it).
func Parked(s *Session) bool {
	s.mu.Lock()
	c := s.ws
	s.mu.Unlock()
	if c == nil || c.poller == nil {
		return false
	}
	return c.poller.holds(c)
}

// ParkedCount returns the number of connections parked in the process.
func ParkedCount() int {
	if p := getPoller(); p != nil {
		return p.count()
	}
	return 0
}
