package streams

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/socketio"
)

// restoreTimeout bounds the Redis calls of one PersistSession or
// RestoreSession, within the context they get.
const restoreTimeout = 5 * time.Second

// maxReplayPages bounds the XRANGE calls of one restore, as Node's 100.
const maxReplayPages = 100

// replayPage is the COUNT of each restore XRANGE.
const replayPage = 1000

var offsetRe = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// PersistSession keeps a disconnected socket's state in Redis, as the Node
// adapter does: SET SessionKeyPrefix+pid base64(msgpack{sid, pid, rooms,
// data}) PX MaxDisconnectionDuration, so that any server of the cluster,
// Go or Node, can restore it.
func (a *Adapter) PersistSession(ctx context.Context, s socketio.PersistedSession) {
	if a.csr == nil {
		return
	}
	data, err := sessionValue(s)
	if err != nil {
		a.h.opts.Logger.Warn("streams: encoding a session", "pid", s.PID, "err", err)
		return
	}
	ttl := a.csr.MaxDisconnectionDuration
	if ttl <= 0 {
		ttl = socketio.DefaultMaxDisconnectionDuration
	}
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	if err := a.h.rdb.Set(ctx, a.h.opts.SessionKeyPrefix+s.PID, data, ttl).Err(); err != nil {
		a.h.opts.Logger.Warn("streams: persisting a session", "pid", s.PID, "err", err)
	}
}

// sessionValue is the stored form of a session.
func sessionValue(s socketio.PersistedSession) (string, error) {
	var data any = notepack.Map{}
	if s.Data != nil {
		data = s.Data
		if _, err := notepack.Encode(data); err != nil {
			// A Go value notepack does not know: its JSON form.
			js, err := json.Marshal(s.Data)
			if err != nil {
				return "", err
			}
			data = json.RawMessage(js)
		}
	}
	m := notepack.Map{{Key: "sid", Value: s.SID}, {Key: "pid", Value: s.PID}, {Key: "rooms", Value: roomList(s.Rooms)}, {Key: "data", Value: data}}
	b, err := notepack.Encode(m)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// RestoreSession takes the session pid from Redis (GET and DEL in one
// transaction) and reads the namespace's stream after offset for the
// events the socket missed: broadcasts of this namespace whose rooms and
// except match the session's rooms, each with its entry id appended. It
// fails when the offset is not an entry id, the session expired or was
// taken, or the offset entry was trimmed. Like Node, volatile broadcasts
// are replayed too, and room changes made meanwhile are not applied.
func (a *Adapter) RestoreSession(ctx context.Context, pid, offset string) (*socketio.RecoveredSession, bool) {
	if a.csr == nil || !offsetRe.MatchString(offset) {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	log := a.h.opts.Logger
	var get *redis.StringCmd
	_, err := a.h.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, a.h.opts.SessionKeyPrefix+pid)
		p.Del(ctx, a.h.opts.SessionKeyPrefix+pid)
		return nil
	})
	if err != nil {
		if err != redis.Nil {
			log.Warn("streams: restoring a session", "pid", pid, "err", err)
		}
		return nil, false
	}
	raw, err := get.Result()
	if err != nil {
		return nil, false
	}
	s, err := sessionOf(raw)
	if err != nil {
		log.Warn("streams: malformed session", "pid", pid, "err", err)
		return nil, false
	}
	// From here, the events this server delivers to the socket are kept
	// for it (see pending.go).
	a.pending.begin(s.SID, s.Rooms)
	ok := false
	defer func() {
		if !ok {
			a.pending.cancel(s.SID)
		}
	}()
	at, err := a.h.rdb.XRange(ctx, a.stream, offset, offset).Result()
	if err != nil || len(at) == 0 {
		return nil, false
	}
	r := &socketio.RecoveredSession{PersistedSession: *s}
	cur := offset
	for range maxReplayPages {
		msgs, err := a.h.rdb.XRangeN(ctx, a.stream, nextOffset(cur), "+", replayPage).Result()
		if err != nil {
			log.Warn("streams: reading missed packets", "pid", pid, "err", err)
			return nil, false
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			cur = m.ID
			if m.Values["nsp"] != a.nsp.Name() || m.Values["type"] != strconv.Itoa(typeBroadcast) {
				continue
			}
			e, err := parseEntry(m.ID, m.Values)
			if err != nil || e.data == nil {
				continue // malformed: skipped, as by the reader
			}
			p, opts, err := eventOf(e.data, a.nsp.Name(), m.ID)
			if err != nil || !includes(s.Rooms, opts) {
				continue
			}
			r.Missed = append(r.Missed, socketio.StoredPacket{Offset: m.ID, Opts: opts, Data: p.Data, Attachments: p.Attachments})
		}
	}
	a.pending.setLast(s.SID, cur)
	ok = true
	return r, true
}

// nextOffset is the smallest id after id ("ms-seq" → "ms-(seq+1)").
func nextOffset(id string) string {
	i := strings.IndexByte(id, '-')
	seq, _ := strconv.ParseUint(id[i+1:], 10, 64)
	return id[:i+1] + strconv.FormatUint(seq+1, 10)
}

// sessionOf decodes a stored session.
func sessionOf(raw string) (*socketio.PersistedSession, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	v, err := notepack.Decode(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(notepack.Map)
	if !ok {
		return nil, errMalformed
	}
	s := &socketio.PersistedSession{}
	sid, _ := m.Get("sid")
	pidv, _ := m.Get("pid")
	if s.SID, ok = sid.(string); !ok {
		return nil, errMalformed
	}
	if s.PID, ok = pidv.(string); !ok {
		return nil, errMalformed
	}
	rv, _ := m.Get("rooms")
	s.Rooms = roomsOf(rv)
	if d, ok := m.Get("data"); ok && d != nil {
		js, err := notepack.AppendJSON(nil, d, notepack.BufferJSON)
		if err != nil {
			return nil, err
		}
		s.Data = json.RawMessage(js)
	}
	return s, nil
}

// includes reports whether a socket in rooms received a broadcast with
// opts (Node's shouldIncludePacket).
func includes(rooms []socketio.Room, opts socketio.BroadcastOptions) bool {
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
