package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"github.com/pierhq/pier/socketio"
)

// BasicAuth is the login of the dashboard: a user name and the bcrypt hash
// of the password ($2a$, $2b$ or $2y$, as made by `htpasswd -bnBC 10 ""
// secret` or bcryptjs).
type BasicAuth struct {
	Username     string
	PasswordHash string
}

// SessionStore keeps the session IDs handed to dashboards that logged in.
// Servers of one cluster share a store to accept each other's sessions.
type SessionStore interface {
	// SessionExists reports whether id was saved (and has not expired).
	SessionExists(ctx context.Context, id string) (bool, error)
	// SaveSession records a new session id.
	SaveSession(ctx context.Context, id string) error
}

// MemoryStore is a SessionStore in memory. Sessions do not expire, but
// only the MaxMemorySessions most recent are kept (a few hundred KB).
//
// Concurrency: safe for concurrent use.
type MemoryStore struct {
	mu    sync.Mutex
	ids   map[string]struct{}
	order []string // oldest first
}

// MaxMemorySessions bounds the session IDs a MemoryStore keeps.
const MaxMemorySessions = 10000

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{ids: make(map[string]struct{})} }

// SessionExists implements SessionStore.
func (m *MemoryStore) SessionExists(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.ids[id]
	return ok, nil
}

// SaveSession implements SessionStore.
func (m *MemoryStore) SaveSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ids[id]; ok {
		return nil
	}
	if len(m.order) >= MaxMemorySessions {
		delete(m.ids, m.order[0])
		m.order = append(m.order[:0], m.order[1:]...)
	}
	m.ids[id] = struct{}{}
	m.order = append(m.order, id)
	return nil
}

// errInvalidCredentials is the one refusal the dashboard recognises.
var errInvalidCredentials = socketio.NewConnectError("invalid credentials", nil)

// authenticator checks the CONNECT payload of dashboards.
type authenticator struct {
	user  string
	hash  []byte
	store SessionStore

	mu     sync.Mutex        // leaf lock
	issued map[string]string // socket id -> session id, until its connection handler
}

func newAuthenticator(b *BasicAuth, store SessionStore) (*authenticator, error) {
	if _, err := bcrypt.Cost([]byte(b.PasswordHash)); err != nil {
		return nil, fmt.Errorf("admin: the password hash must be a bcrypt hash: %w", err)
	}
	return &authenticator{user: b.Username, hash: []byte(b.PasswordHash), store: store,
		issued: make(map[string]string)}, nil
}

// middleware accepts a known session ID, or the right user name and
// password (which earns a new session ID). Anything else gets the error
// "invalid credentials"; a wrong user name skips the slow bcrypt check.
func (au *authenticator) middleware(s *socketio.Socket) error {
	var in struct {
		SessionID json.RawMessage `json:"sessionId"`
		Username  json.RawMessage `json:"username"`
		Password  json.RawMessage `json:"password"`
	}
	if s.Handshake().DecodeAuth(&in) != nil {
		return errInvalidCredentials
	}
	ctx := s.Context()
	if sid, ok := jsonString(in.SessionID); ok && sid != "" {
		if known, err := au.store.SessionExists(ctx, sid); err == nil && known {
			return nil
		}
	}
	user, ok1 := jsonString(in.Username)
	pass, ok2 := jsonString(in.Password)
	if !ok1 || !ok2 || user != au.user || bcrypt.CompareHashAndPassword(au.hash, []byte(pass)) != nil {
		return errInvalidCredentials
	}
	var raw [8]byte
	rand.Read(raw[:])
	sid := hex.EncodeToString(raw[:])
	if err := au.store.SaveSession(ctx, sid); err != nil {
		return socketio.NewConnectError("session store: "+err.Error(), nil)
	}
	au.mu.Lock()
	au.issued[s.ID()] = sid
	au.mu.Unlock()
	// Forgotten with the socket if a later middleware refuses it.
	context.AfterFunc(s.Context(), func() { au.takeIssued(s.ID()) })
	return nil
}

// takeIssued returns and forgets the session ID issued to socket id.
func (au *authenticator) takeIssued(id string) string {
	au.mu.Lock()
	defer au.mu.Unlock()
	sid := au.issued[id]
	delete(au.issued, id)
	return sid
}

// jsonString decodes raw as a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
