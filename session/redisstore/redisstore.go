// Package redisstore is a session.Store in Redis that is byte-compatible
// with connect-redis (9.x, and 6.x as @sailshq/connect-redis for Sails):
// Node servers using express-session with connect-redis and Pier servers
// using this store share one set of sessions.
//
// The entry point is New, which takes any go-redis v9 UniversalClient
// (single node, cluster, Sentinel) and *Options.
//
// What connect-redis does, and so does Store: the key is Prefix + ID
// ("sess:" by default); the value is the session's JSON as is; Save is
// SET key value EX ttl, with ttl the seconds left to the cookie's expiry
// rounded up, or the default of 86400 s for a session without expiry; a
// session already expired is deleted instead; Touch is EXPIRE key ttl;
// Delete is DEL key.
package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/session"
)

// Defaults of Options.
const (
	DefaultPrefix = "sess:"
	DefaultTTL    = 86400 * time.Second // connect-redis: "One day in seconds."
)

// Options configures a Store. A nil *Options, or a zero field, means the
// default, which is connect-redis's.
type Options struct {
	// Prefix is put before session IDs to make keys. Default "sess:" (also
	// Sails' default); it must match the Node servers' prefix option.
	Prefix string
	// TTL applies to sessions without an expiry of their own (a
	// browser-session cookie). Default 86400 s; it must match the Node
	// servers' ttl option. Rounded up to whole seconds.
	TTL time.Duration
}

// Store is a session.Store in Redis. It is safe for concurrent use, as the
// client is.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	ttl    time.Duration
}

var _ session.Store = (*Store)(nil)

// New returns a Store using rdb, which the caller keeps ownership of (and
// closes).
func New(rdb redis.UniversalClient, opts *Options) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, ttl: DefaultTTL}
	if opts != nil {
		if opts.Prefix != "" {
			s.prefix = opts.Prefix
		}
		if opts.TTL > 0 {
			s.ttl = opts.TTL
		}
	}
	return s
}

// Key returns the Redis key of session id.
func (s *Store) Key(id string) string { return s.prefix + id }

// Load is GET; a missing key is session.ErrNotFound.
func (s *Store) Load(ctx context.Context, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.Key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, session.ErrNotFound
	}
	return b, err
}

// Save is SET key data EX seconds, or DEL when ttl < 0.
func (s *Store) Save(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	if ttl < 0 {
		return s.Delete(ctx, id)
	}
	return s.rdb.Set(ctx, s.Key(id), data, s.seconds(ttl)).Err()
}

// Touch is EXPIRE key seconds (a ttl < 0 makes Redis delete the key).
func (s *Store) Touch(ctx context.Context, id string, ttl time.Duration) error {
	if ttl < 0 {
		return s.Delete(ctx, id)
	}
	return s.rdb.Expire(ctx, s.Key(id), s.seconds(ttl)).Err()
}

// Delete is DEL.
func (s *Store) Delete(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, s.Key(id)).Err()
}

// seconds is connect-redis's Math.ceil(ms / 1000), as a whole number of
// seconds so that go-redis sends EX and EXPIRE rather than PX and PEXPIRE.
func (s *Store) seconds(ttl time.Duration) time.Duration {
	if ttl == 0 {
		ttl = s.ttl
	}
	return (ttl + time.Second - 1).Truncate(time.Second)
}
