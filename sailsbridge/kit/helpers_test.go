package kit_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/sailsbridge"
	"github.com/pierhq/pier/socketio"
)

// serve starts an httptest server of the handler build returns, on a
// Socket.IO server with Sails' Engine.IO settings.
func serve(t *testing.T, build func(io *socketio.Server) (http.Handler, error)) string {
	t.Helper()
	io, err := socketio.NewServer(&socketio.Options{Engine: sailsbridge.EngineOptions()})
	if err != nil {
		t.Fatal(err)
	}
	h, err := build(io)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		io.Shutdown(ctx)
		hs.Close()
	})
	return hs.URL
}

// runScript runs a Node script (an absolute path, or a name in
// testdata/js) and returns its events.
func runScript(t *testing.T, script string, args ...string) []jstest.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	events, err := jstest.Run(ctx, t, script, args...)
	if err != nil {
		for _, e := range events {
			b, _ := json.Marshal(e)
			t.Logf("event %s", b)
		}
		t.Fatal(err)
	}
	return events
}

func asJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
