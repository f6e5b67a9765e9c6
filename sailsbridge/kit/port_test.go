package kit_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/jstest"
	"github.com/pierhq/pier/socketio"
	"github.com/pierhq/pier/testdata/sails-app/goport"
)

const appDir = "../../testdata/sails-app"

// startSails runs the real Sails 1.5.18 app of testdata/sails-app and
// returns its URL; it is lowered when the test ends.
func startSails(t *testing.T) string {
	t.Helper()
	return jstest.Serve(t, appDir, 60*time.Second, "app.js")
}

func scenarioSteps(t *testing.T, url string) []jstest.Event {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join(appDir, "scenario.js"))
	events := runScript(t, script, "--url", url)
	steps := jstest.Filter(events, "step")
	if done, _ := jstest.First(events, "done"); !done.Bool("ok") {
		t.Fatalf("scenario did not finish: %v", done)
	}
	return steps
}

// TestPortMatchesSails runs the blueprint transcript (scenario.js: 62
// steps with four sockets) against the real Sails app and against its Go
// port, and requires the same status, body, events per socket and rooms
// at every step (timestamps aside).
func TestPortMatchesSails(t *testing.T) {
	t.Parallel()
	sailsURL := startSails(t)
	goURL := serve(t, func(io *socketio.Server) (http.Handler, error) { return goport.New(io, nil) })

	want := scenarioSteps(t, sailsURL)
	got := scenarioSteps(t, goURL)
	if len(want) < 62 {
		t.Fatalf("the Sails run has %d steps, want 62", len(want))
	}
	// The transcript is not trivial: Sails sent events in it.
	events := 0
	for _, s := range want {
		for _, m := range s["msgs"].(map[string]any) {
			events += len(m.([]any))
		}
	}
	if events < 50 {
		t.Fatalf("the Sails run has %d events, want at least 50", events)
	}
	if len(got) != len(want) {
		t.Fatalf("Go port: %d steps, Sails %d", len(got), len(want))
	}
	for i := range want {
		w, g := asJSON(want[i]), asJSON(got[i])
		if w != g {
			t.Errorf("step %q:\n Sails %s\n Go    %s", want[i].String("name"), w, g)
		}
	}
	if !t.Failed() {
		t.Logf("%d steps, %d events: the same from Sails and from the Go port", len(want), events)
	}
}
