//go:build !linux

package engineio

// Elsewhere than Linux there is no poller: every websocket keeps its
// reading goroutine (see Options.ParkIdleAfter).
type poller struct{}

func getPoller() *poller { return nil }

func (p *poller) park(c *wsConn) error { return errNotParked }
func (p *poller) forget(c *wsConn)     {}
func (p *poller) count() int           { return 0 }
func (p *poller) holds(c *wsConn) bool { return false }

// rawIO: no raw reads and writes (wsConn.rc stays nil).
const rawIO = false

func (c *wsConn) tryWriteLocked(fb *frameBuffers) (bool, error) { return false, nil }
func (c *wsConn) writeSocket(fd uintptr) bool                   { return true }

func readNonBlocking(fd uintptr, b []byte) (n int, ok bool, err error) { return 0, false, nil }

// iovecs is writev's scratch space on Linux.
type iovecs = struct{}
