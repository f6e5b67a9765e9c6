package engineio_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pierhq/pier/engineio"
)

// TestSessionContextMadeOnDemand: a session makes its context on the
// first Context call; whether made before the close or after it, the
// context ends with the session's *CloseError as its cause.
func TestSessionContextMadeOnDemand(t *testing.T) {
	for _, early := range []bool{true, false} {
		h := newRecHandler()
		var before context.Context
		if early {
			h.onOpen = func(s *engineio.Session) { before = s.Context() }
		}
		f := newFixture(t, nil, h)
		sid := f.openPolling(4, "")
		s := h.session(t, sid)
		s.Close("test")
		h.waitClosed(t, sid)
		for i, ctx := range []context.Context{before, s.Context(), s.Request().Context()} {
			if ctx == nil {
				continue
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Second):
				t.Fatalf("early=%v context %d not done after the close", early, i)
			}
			var ce *engineio.CloseError
			if cause := context.Cause(ctx); !errors.As(cause, &ce) || ce.Reason != engineio.ReasonForcedClose {
				t.Errorf("early=%v context %d: cause %v, want the session's close error", early, i, cause)
			}
		}
	}
}
