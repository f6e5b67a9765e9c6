package socketio

// Hooks are optional callbacks through which a program counts what the
// server does (metrics), without the package depending on a metrics
// library. Each runs on the goroutine doing the work: it must be fast,
// must not block and must not call the server. A nil field is skipped.
type Hooks struct {
	// Broadcast is told of each broadcast of this process's adapter to
	// its local sockets, with the number of sockets it is sent to.
	Broadcast func(recipients int)

	// AckWaiting is told when an EmitWithAck starts waiting for the
	// client's acknowledgement (delta 1) and when it stops (delta -1).
	AckWaiting func(delta int)

	// AckTimeout is told when an EmitWithAck gave up for its deadline.
	AckTimeout func()
}

func (h *Hooks) broadcast(n int) {
	if h != nil && h.Broadcast != nil {
		h.Broadcast(n)
	}
}

// ackWaiting reports a wait that starts, and returns what reports its end.
func (h *Hooks) ackWaiting() func() {
	if h == nil || h.AckWaiting == nil {
		return func() {}
	}
	h.AckWaiting(1)
	return func() { h.AckWaiting(-1) }
}

func (h *Hooks) ackTimeout() {
	if h != nil && h.AckTimeout != nil {
		h.AckTimeout()
	}
}
