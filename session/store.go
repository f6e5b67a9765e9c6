package session

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Store.Load when the store has no live session
// under the ID.
var ErrNotFound = errors.New("session: not found")

// Store keeps sessions as the JSON documents express-session stores write
// (see Session.MarshalJSON), keyed by session ID. Implementations must be
// safe for concurrent use and must not keep or modify the data slices they
// are given or return.
//
// TTL rules, those of connect-redis: ttl > 0 is the time left to the
// session (the Manager passes the cookie's expires minus now), ttl == 0
// means the session has no expiry of its own (a browser-session cookie) and
// the store applies its default TTL, and ttl < 0 means the session has
// expired: Save deletes it.
type Store interface {
	// Load returns the session's data, or ErrNotFound.
	Load(ctx context.Context, id string) ([]byte, error)
	// Save creates or replaces the session.
	Save(ctx context.Context, id string, data []byte, ttl time.Duration) error
	// Touch resets the TTL of an unchanged session (rolling expiry). It is
	// not an error if the session is gone.
	Touch(ctx context.Context, id string, ttl time.Duration) error
	// Delete removes the session; it is not an error if it is gone.
	Delete(ctx context.Context, id string) error
}
