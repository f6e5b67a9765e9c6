package redisadapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/redisadapter"
	"github.com/pierhq/pier/socketio"
)

// TestRemoteSocketEmitWithAck asks a question, from server A, to a
// socket.io-client 4 connected to server B: RemoteSocket.EmitWithAck
// crosses the cluster (Node's fetchSockets + timeout().emitWithAck).
func TestRemoteSocketEmitWithAck(t *testing.T) {
	jstest.Install(t)
	eachProtocol(t, testRemoteSocketEmitWithAck)
}

func testRemoteSocketEmitWithAck(t *testing.T, proto func(*redisadapter.Options)) {
	addr, key := sharedAddr(t), keyFor(t)
	a, b := newNode(t, addr, key, "A", proto), newNode(t, addr, key, "B", proto)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := jstest.Run(ctx, t, "sio-calls.js", "--url", b.url, "--answer", "question", "--wait", "3")
		done <- err
	}()
	var socks []*socketio.RemoteSocket
	var err error
	deadline := time.Now().Add(20 * time.Second)
	for {
		socks, err = a.srv.Of("/").FetchSockets(ctx)
		if err == nil && len(socks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("FetchSockets on A = %v, %v; want B's client", socks, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if a.srv.Of("/").SocketCount() != 0 {
		t.Fatal("the client is on A; want it on B")
	}
	rs := socks[0]
	ack, err := rs.EmitWithAck(ctx, "question", "across", []byte{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Answer []any }
	if err := ack.Decode(&got); err != nil || len(got.Answer) != 2 || got.Answer[0] != "across" {
		t.Fatalf("answer %s (%v)", ack.Raw(0), err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = rs.EmitWithAck(tctx, "silent")
	tcancel()
	if !errors.Is(err, socketio.ErrAckTimeout) {
		t.Fatalf("unanswered: %v, want ErrAckTimeout", err)
	}
	rs.Emit("bye")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	eventually(t, "the client gone from B", func() bool { return b.srv.Of("/").SocketCount() == 0 })
	if _, err := rs.EmitWithAck(ctx, "question"); !errors.Is(err, socketio.ErrDisconnected) {
		t.Fatalf("after the client left: %v, want ErrDisconnected", err)
	}
}
