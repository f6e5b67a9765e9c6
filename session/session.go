package session

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ErrDestroyed is returned by Set, SetRaw and Save on a session that was
// destroyed.
var ErrDestroyed = errors.New("session: destroyed")

// Session is one session as a request sees it: loaded from the store once
// (or created) when the request starts, saved by the Manager's middleware
// when the response starts, as express-session does. Its data is a JSON
// object: the values set with Set, plus the "cookie" object that
// express-session keeps in every session (see Cookie).
//
// All methods are safe for concurrent use. Two requests of the same browser
// each get their own Session, and the last one saved wins, as in
// express-session.
type Session struct {
	m  *Manager
	mu sync.Mutex

	id       string
	cookieID string // the valid ID the request's cookie carried, "" if none
	isNew    bool
	keys     []string // insertion order, "cookie" included
	values   map[string]json.RawMessage
	cookie   Cookie
	// cookieGen counts SetMaxAge calls: unlike express-session, Pier saves a
	// session whose cookie settings were changed.
	cookieGen uint64

	originalID   string
	originalHash [sha256.Size]byte
	savedID      string // the ID savedHash was saved under
	savedHash    [sha256.Size]byte
	saved        bool // savedHash is set
	touched      bool
	destroyed    bool
}

// ID returns the session ID (the store key without its prefix).
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// IsNew reports whether the session was created for this request rather
// than loaded: the request had no valid session cookie, its session was not
// in the store, or Regenerate was called.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isNew
}

// Get decodes the value stored under key into dst (with encoding/json) and
// reports whether there was one. A JSON null is a value.
func (s *Session) Get(key string, dst any) (bool, error) {
	raw := s.Raw(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return true, fmt.Errorf("session: decoding %q: %w", key, err)
	}
	return true, nil
}

// Raw returns a copy of the JSON stored under key, or nil.
func (s *Session) Raw(key string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "cookie" {
		return nil
	}
	return slices.Clone(s.values[key])
}

// Keys returns the keys of the session's values in the order JSON
// serializes them, "cookie" excluded.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.values))
	for _, k := range s.keys {
		if k != "cookie" {
			keys = append(keys, k)
		}
	}
	return keys
}

// Set stores v, encoded with encoding/json, under key. The key "cookie" and
// the names express-session's Session ignores on load ("id", "req", its
// methods such as "save", and Object.prototype's members such as
// "constructor" and "__proto__") are refused, since Node would drop them.
func (s *Session) Set(key string, v any) error {
	raw, err := marshal(v)
	if err != nil {
		return fmt.Errorf("session: encoding %q: %w", key, err)
	}
	return s.set(key, raw)
}

// SetRaw stores raw, which must be valid JSON, under key; see Set.
func (s *Session) SetRaw(key string, raw json.RawMessage) error {
	if !json.Valid(raw) {
		return fmt.Errorf("session: value for %q is not valid JSON", key)
	}
	var buf bytes.Buffer
	json.Compact(&buf, raw)
	return s.set(key, buf.Bytes())
}

func (s *Session) set(key string, raw json.RawMessage) error {
	if key == "cookie" || reservedKey(key) {
		return fmt.Errorf("session: key %q is reserved", key)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.destroyed {
		return ErrDestroyed
	}
	if _, ok := s.values[key]; !ok {
		s.keys = append(s.keys, key)
	}
	s.values[key] = raw
	return nil
}

// Delete removes key, if present.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[key]; !ok || key == "cookie" {
		return
	}
	delete(s.values, key)
	s.keys = slices.DeleteFunc(s.keys, func(k string) bool { return k == key })
}

// PassportUser decodes session.passport.user, where passport's
// serializeUser result is kept, into dst and reports whether a user is
// logged in (the value exists and is not null).
func (s *Session) PassportUser(dst any) (bool, error) {
	raw := s.Raw("passport")
	if raw == nil {
		return false, nil
	}
	var p map[string]json.RawMessage // exact key match, unlike a struct
	if err := json.Unmarshal(raw, &p); err != nil {
		return false, nil // not an object: no user
	}
	user, ok := p["user"]
	if !ok || string(user) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(user, dst); err != nil {
		return true, fmt.Errorf("session: decoding passport.user: %w", err)
	}
	return true, nil
}

// Cookie returns the session's cookie settings.
func (s *Session) Cookie() Cookie {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cookie
}

// SetMaxAge changes the cookie's lifetime (express's
// req.session.cookie.maxAge = ms), for example for "remember me": d > 0
// makes the cookie expire d from now, and from each later request that
// saves or touches the session; 0 makes it a browser-session cookie with
// the store's default TTL. Unlike express-session, which ignores cookie
// changes when deciding whether to save, the change makes the session
// modified, so it is saved and the cookie sent again.
func (s *Session) SetMaxAge(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cookie.MaxAge = d
	s.cookie.Expires = time.Time{}
	if d != 0 {
		s.cookie.Expires = time.Now().Add(d)
	}
	s.cookieGen++
}

// MarshalJSON returns the session's data as the store holds it: the
// values and the "cookie" object.
func (s *Session) MarshalJSON() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return appendData(nil, s.keys, s.values, &s.cookie), nil
}

// Save writes the session to the store now (express's
// req.session.save()), with the TTL its cookie gives. The middleware saves
// by itself; Save is for sessions used outside it (a socket's session) or
// to save before a redirect is answered. A session whose cookie has expired
// is deleted instead.
func (s *Session) Save(ctx context.Context) error {
	s.mu.Lock()
	if s.destroyed {
		s.mu.Unlock()
		return ErrDestroyed
	}
	snap := s.snapshotLocked()
	s.mu.Unlock()
	return s.m.write(ctx, s, snap)
}

// Regenerate replaces the session with a new, empty one under a new ID and
// deletes the old one from the store (express's req.session.regenerate(),
// which passport 0.6+ calls at login and logout to prevent session
// fixation). The new cookie is sent with the response when the middleware
// serves the request; a socket keeps sending the old cookie, so a session
// regenerated over a socket is lost to it.
func (s *Session) Regenerate(ctx context.Context) error {
	s.mu.Lock()
	old := s.id
	s.mu.Unlock()
	if err := s.m.store.Delete(ctx, old); err != nil {
		return fmt.Errorf("session: regenerate: %w", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.id = newID()
	s.isNew = true
	s.keys = []string{"cookie"}
	s.values = make(map[string]json.RawMessage)
	s.cookie = s.m.newCookie(now)
	s.destroyed = false
	s.saved = false
	s.touched = false
	return nil
}

// Destroy deletes the session from the store (express's
// req.session.destroy()). The session is then empty, Set and Save fail
// with ErrDestroyed, the middleware neither saves it nor sends a cookie,
// and the browser's next request gets a new session.
func (s *Session) Destroy(ctx context.Context) error {
	s.mu.Lock()
	id := s.id
	s.mu.Unlock()
	if err := s.m.store.Delete(ctx, id); err != nil {
		return fmt.Errorf("session: destroy: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.destroyed = true
	s.keys = []string{"cookie"}
	s.values = make(map[string]json.RawMessage)
	return nil
}

// hashLocked fingerprints the values, in order, and the cookie changes
// made with SetMaxAge; express-session hashes JSON.stringify of the
// session without its cookie.
func (s *Session) hashLocked() [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], s.cookieGen)
	h.Write(n[:])
	for _, k := range s.keys {
		if k == "cookie" {
			continue
		}
		binary.LittleEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write([]byte(k))
		v := s.values[k]
		binary.LittleEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write(v)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// snapshot is what one store write needs, taken under the lock.
type snapshot struct {
	id      string
	data    []byte
	expires time.Time
	hash    [sha256.Size]byte
}

func (s *Session) snapshotLocked() snapshot {
	return snapshot{
		id:      s.id,
		data:    appendData(nil, s.keys, s.values, &s.cookie),
		expires: s.cookie.Expires,
		hash:    s.hashLocked(),
	}
}

// express-session's save decisions (index.js isModified, isSaved,
// shouldSave, shouldTouch, shouldSetCookie), under the lock.

func (s *Session) isModifiedLocked() bool {
	return s.originalID != s.id || s.originalHash != s.hashLocked()
}

// isSavedLocked differs from express-session's isSaved, which compares with
// the original ID, so that a regenerated session saved once is not saved
// again.
func (s *Session) isSavedLocked() bool {
	return s.saved && s.savedID == s.id && s.savedHash == s.hashLocked()
}

func (s *Session) shouldSaveLocked(saveUninitialized bool) bool {
	if s.destroyed {
		return false
	}
	if !saveUninitialized && !s.saved && s.cookieID != s.id {
		return s.isModifiedLocked()
	}
	return !s.isSavedLocked()
}

func (s *Session) shouldTouchLocked(saveUninitialized bool) bool {
	return !s.destroyed && s.cookieID == s.id && !s.shouldSaveLocked(saveUninitialized)
}

func (s *Session) shouldSetCookieLocked(saveUninitialized, rolling bool) bool {
	if s.destroyed {
		return false
	}
	if s.cookieID != s.id {
		return saveUninitialized || s.isModifiedLocked()
	}
	// Pier also resends a cookie changed with SetMaxAge.
	return rolling || s.cookieGen != 0 || !s.cookie.Expires.IsZero() && s.isModifiedLocked()
}

// touchLocked is express's session.touch(): a cookie with a max age
// expires max age from now.
func (s *Session) touchLocked(now time.Time) {
	if s.touched {
		return
	}
	s.touched = true
	if s.cookie.MaxAge != 0 {
		s.cookie.Expires = now.Add(s.cookie.MaxAge)
	} else {
		s.cookie.Expires = time.Time{}
	}
}
