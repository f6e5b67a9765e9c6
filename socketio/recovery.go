package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// RecoveryOptions turns on connection state recovery (Socket.IO 4.6+): a
// client that lost its connection for a transport reason and comes back
// within MaxDisconnectionDuration gets its socket id, rooms and data back,
// and the events broadcast to it meanwhile. Clients need socket.io-client
// 4.6 or later.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a disconnected socket's state
	// and the broadcast events are kept. Default 2 minutes.
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs the namespace middleware again for a recovered
	// socket (Node: skipMiddlewares false). By default they are skipped.
	RunMiddlewares bool
	// MaxPackets bounds the events kept for recovery, per namespace; the
	// oldest go first. Default 100,000 (Node keeps them all).
	MaxPackets int
}

// DefaultMaxDisconnectionDuration is the default of
// RecoveryOptions.MaxDisconnectionDuration.
const DefaultMaxDisconnectionDuration = 2 * time.Minute

// recoverableReasons are the disconnect reasons after which a socket's
// state is kept, as in Node.
var recoverableReasons = map[string]bool{
	"transport error": true, "transport close": true, "forced close": true,
	"ping timeout": true, "server shutting down": true, "forced server close": true,
}

// PersistedSession is the state of a disconnected socket kept for
// recovery.
type PersistedSession struct {
	SID   string
	PID   string
	Rooms []Room
	Data  any
}

// RecoveredSession is a persisted session with the events it missed, each
// the JSON payload of an EVENT (offset included) and its attachments.
type RecoveredSession struct {
	PersistedSession
	Missed []StoredPacket
}

// StoredPacket is a broadcast event kept for recovery.
type StoredPacket struct {
	Offset      string
	Opts        BroadcastOptions
	Data        []byte
	Attachments [][]byte
	at          time.Time
}

// SessionStore is the optional capability of an Adapter that supports
// connection state recovery; LocalAdapter has it when the server's
// ConnectionStateRecovery is set. Broadcast appends an offset to eligible
// events and stores them. Both methods may wait on the network (a cluster
// adapter keeps sessions in Redis): PersistSession gets a context that is
// not cancelled (the socket is gone; the store should bound its own
// calls), RestoreSession the connection's, which ends when it closes.
type SessionStore interface {
	PersistSession(ctx context.Context, s PersistedSession)
	RestoreSession(ctx context.Context, pid, offset string) (*RecoveredSession, bool)
}

// recoveryStore keeps persisted sessions and broadcast packets in memory.
type recoveryStore struct {
	maxAge     time.Duration
	maxPackets int

	mu       sync.Mutex
	sessions map[string]persisted
	packets  []StoredPacket
}

type persisted struct {
	PersistedSession
	at time.Time
}

func newRecoveryStore(o *RecoveryOptions) *recoveryStore {
	st := &recoveryStore{maxAge: o.MaxDisconnectionDuration, maxPackets: o.MaxPackets, sessions: make(map[string]persisted)}
	if st.maxAge <= 0 {
		st.maxAge = DefaultMaxDisconnectionDuration
	}
	if st.maxPackets <= 0 {
		st.maxPackets = 100_000
	}
	return st
}

var offsetSeq atomic.Uint64

// offsetPrefix makes offsets unique across processes and restarts.
var offsetPrefix = func() string {
	var b [6]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:]) + "-"
}()

func newOffset() string {
	return offsetPrefix + strconv.FormatUint(offsetSeq.Add(1), 36)
}

// stamp appends a new offset as the last argument of an eligible event
// packet and stores it. It returns the packet to send (a copy when
// stamped; the caller's packet is not changed).
func (st *recoveryStore) stamp(p *Packet, opts BroadcastOptions) *Packet {
	if (p.Type != PacketEvent && p.Type != PacketBinaryEvent) || p.HasID || opts.Volatile || len(p.Data) < 2 {
		return p
	}
	off := newOffset()
	data := make([]byte, 0, len(p.Data)+len(off)+3)
	data = append(data, p.Data[:len(p.Data)-1]...) // drop the closing ']'
	data = append(data, ',')
	data = appendJSONString(data, off)
	data = append(data, ']')
	q := *p
	q.Data = data
	now := time.Now()
	st.mu.Lock()
	st.purgeLocked(now)
	st.packets = append(st.packets, StoredPacket{Offset: off, Opts: opts, Data: data, Attachments: p.Attachments, at: now})
	if len(st.packets) > st.maxPackets {
		st.packets = st.packets[len(st.packets)-st.maxPackets:]
	}
	st.mu.Unlock()
	return &q
}

func (st *recoveryStore) purgeLocked(now time.Time) {
	i := 0
	for i < len(st.packets) && now.Sub(st.packets[i].at) > st.maxAge {
		i++
	}
	if i > 0 {
		st.packets = append(st.packets[:0:0], st.packets[i:]...)
	}
	for pid, s := range st.sessions {
		if now.Sub(s.at) > st.maxAge {
			delete(st.sessions, pid)
		}
	}
}

func (st *recoveryStore) PersistSession(s PersistedSession) {
	st.mu.Lock()
	st.sessions[s.PID] = persisted{PersistedSession: s, at: time.Now()}
	st.mu.Unlock()
}

// RestoreSession returns the session pid with the events after offset that
// were meant for it. It fails when the session expired or offset is no
// longer known (then the client starts afresh).
func (st *recoveryStore) RestoreSession(pid, offset string) (*RecoveredSession, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now()
	st.purgeLocked(now)
	s, ok := st.sessions[pid]
	if !ok {
		return nil, false
	}
	delete(st.sessions, pid)
	idx := -1
	for i := len(st.packets) - 1; i >= 0; i-- {
		if st.packets[i].Offset == offset {
			idx = i
			break
		}
	}
	if idx < 0 {
		return nil, false
	}
	r := &RecoveredSession{PersistedSession: s.PersistedSession}
	for _, p := range st.packets[idx+1:] {
		if includes(s.Rooms, p.Opts) {
			r.Missed = append(r.Missed, p)
		}
	}
	return r, true
}

// includes reports whether a socket in rooms was a recipient of a
// broadcast with opts.
func includes(rooms []Room, opts BroadcastOptions) bool {
	in := len(opts.Rooms) == 0
	for _, r := range rooms {
		for _, x := range opts.Except {
			if r == x {
				return false
			}
		}
		for _, x := range opts.Rooms {
			if r == x {
				in = true
			}
		}
	}
	return in
}
