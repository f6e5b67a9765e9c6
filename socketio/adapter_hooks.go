package socketio

import "github.com/pierhq/pier/engineio"

// Deliver queues p on every local socket opts selects, as it is: unlike
// Broadcast it never appends a recovery offset nor stores the packet. It
// is for adapters that keep the recovery log themselves (the Redis
// streams adapter appends the stream entry id), and does not block.
func (a *LocalAdapter) Deliver(p *Packet, opts BroadcastOptions) {
	var buf [4]engineio.Message
	msgs := a.nsp.srv.parser.Encode(buf[:0], p)
	var to []*engineio.Session
	a.nsp.mu.RLock()
	a.each(opts, func(id string) {
		if s := a.nsp.sockets[id]; s != nil {
			to = append(to, s.c.sess)
		}
	})
	a.nsp.mu.RUnlock()
	fanOut(to, msgs, opts.Volatile)
}

// RecoveryOptions returns the server's connection state recovery options,
// nil when recovery is off; adapters that keep the recovery state
// themselves need them.
func (n *Namespace) RecoveryOptions() *RecoveryOptions { return n.srv.opts.ConnectionStateRecovery }
