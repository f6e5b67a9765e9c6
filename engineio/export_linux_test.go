package engineio

import (
	"log/slog"
	"syscall"
)

// UsePrivatePoller makes srv park its websockets in a poller of their own,
// logging to log, and returns a function that makes that poller's next
// wait fail with err. It must be called before srv serves.
func UsePrivatePoller(srv *Server, log *slog.Logger) (fail func(err error)) {
	p, err := newPoller()
	if err != nil {
		panic(err)
	}
	p.log = log
	srv.testPoller = p
	return func(err error) {
		p.injected.Store(&err)
		p.mu.Lock()
		running := p.running
		p.mu.Unlock()
		if running {
			syscall.Write(p.wakeW, []byte{1})
		}
	}
}

// SetRawSyscalls turns the raw read and writev system calls of websockets
// on or off (benchmarks compare the two in one run).
func SetRawSyscalls(on bool) { rawSyscalls.Store(on) }
