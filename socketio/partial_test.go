package socketio

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// partialAdapter is a LocalAdapter whose other servers never answer: its
// cluster-wide operations reach the local sockets, then fail.
type partialAdapter struct{ *LocalAdapter }

var errPeers = errors.New("a server did not answer")

func (a partialAdapter) FetchSockets(ctx context.Context, opts BroadcastOptions) ([]SocketInfo, error) {
	local, _ := a.LocalAdapter.FetchSockets(ctx, opts)
	return local, errPeers
}

func (a partialAdapter) Broadcast(ctx context.Context, p *Packet, opts BroadcastOptions, acks *BroadcastAcks) error {
	a.LocalAdapter.Broadcast(ctx, p, opts, acks)
	return errPeers
}

// When the adapter reaches only part of the cluster, FetchSockets and
// EmitWithAck return what they got together with the adapter's error.
func TestPartialResultsWithError(t *testing.T) {
	srv, url := newTestServer(t, &Options{Adapter: func(n *Namespace) Adapter { return partialAdapter{NewLocal(n)} }})
	srv.OnConnection(func(s *Socket) {})
	c := dialRaw(t, url, 4)
	c.Send("40")
	readUntil(t, c, "40")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	socks, err := srv.Of("/").FetchSockets(ctx)
	if !errors.Is(err, errPeers) || len(socks) != 1 {
		t.Fatalf("FetchSockets: %d sockets, err %v; want the local one and the error", len(socks), err)
	}

	type result struct {
		acks []Args
		err  error
	}
	done := make(chan result, 1)
	go func() {
		acks, err := srv.Of("/").EmitWithAck(ctx, "ask")
		done <- result{acks, err}
	}()
	p := readUntil(t, c, "42")
	id, ok := strings.CutSuffix(p[2:], `["ask"]`)
	if !ok || id == "" {
		t.Fatalf("packet %q, want an EVENT with an ack id", p)
	}
	c.Send("43" + id + `["yes"]`)
	r := <-done
	if !errors.Is(r.err, errPeers) || errors.Is(r.err, ErrAckTimeout) || len(r.acks) != 1 || string(r.acks[0].Raw(0)) != `"yes"` {
		t.Fatalf("EmitWithAck: %d acks, err %v; want the local ack and the adapter's error", len(r.acks), r.err)
	}
}
