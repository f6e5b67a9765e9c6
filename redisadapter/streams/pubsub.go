package streams

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/internal/notepack"
	"github.com/pierhq/pier/internal/placeholder"
	"github.com/pierhq/pier/socketio"
)

// Message types of the pub/sub half (requests without a stream entry and
// all responses), as socket.io-adapter's ClusterAdapter numbers them.
const (
	typeFetchSockets           = 7
	typeFetchSocketsResponse   = 8
	typeServerSideEmit         = 9
	typeServerSideEmitResponse = 10
)

// ErrTimeout is wrapped by the errors of requests that did not get every
// other server's answer in time.
var ErrTimeout = errors.New("streams: timeout reached")

// request is a FetchSockets or ServerSideEmit waiting for answers.
//
// Concurrency: mu guards the fields after it.
type request struct {
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	want    int
	got     int
	sockets []socketio.SocketInfo
	acks    []socketio.Args
}

func (r *request) add(f func(r *request)) {
	r.mu.Lock()
	f(r)
	r.got++
	full := r.got >= r.want
	r.mu.Unlock()
	if full {
		r.once.Do(func() { close(r.done) })
	}
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// publicChannel is where requests go; privateChannel the adapter's own,
// where answers come.
func (a *Adapter) publicChannel() string { return a.h.opts.ChannelPrefix + "#" + a.nsp.Name() + "#" }
func (a *Adapter) privateChannel() string {
	return a.h.opts.ChannelPrefix + "#" + a.nsp.Name() + "#" + a.uid + "#"
}

// publish sends msgpack({type, data, uid, nsp}) to channel.
func (a *Adapter) publish(ctx context.Context, channel string, msg message) error {
	b, err := notepack.Encode(envelope(msg, a.uid, a.nsp.Name()))
	if err != nil {
		return err
	}
	return a.h.rdb.Publish(ctx, channel, b).Err()
}

// ServerCount returns the number of servers of the cluster serving this
// namespace, as the Node adapter 0.3.1 counts them: the subscribers of
// the namespace's public channel (PUBSUB NUMSUB, summed over the shards of
// a Redis Cluster).
func (a *Adapter) ServerCount(ctx context.Context) (int, error) {
	ch := a.publicChannel()
	if cc, ok := a.h.rdb.(*redis.ClusterClient); ok {
		var total atomic.Int64
		err := cc.ForEachShard(ctx, func(ctx context.Context, c *redis.Client) error {
			m, err := c.PubSubNumSub(ctx, ch).Result()
			total.Add(m[ch])
			return err
		})
		return int(total.Load()), err
	}
	m, err := a.h.rdb.PubSubNumSub(ctx, ch).Result()
	return int(m[ch]), err
}

// ask publishes a request built with a new request id and waits for one
// answer per other server, RequestsTimeout at most. It returns nil when
// there is no other server.
func (a *Adapter) ask(ctx context.Context, build func(id string) message) (*request, error) {
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if n-1 <= 0 {
		return nil, nil
	}
	id := newRequestID()
	r := &request{done: make(chan struct{}), want: n - 1}
	a.mu.Lock()
	a.requests[id] = r
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, id)
		a.mu.Unlock()
	}()
	if err := a.publish(ctx, a.publicChannel(), build(id)); err != nil {
		return nil, err
	}
	t := time.NewTimer(a.h.opts.RequestsTimeout)
	defer t.Stop()
	select {
	case <-r.done:
		return r, nil
	case <-t.C:
	case <-ctx.Done():
	}
	r.mu.Lock()
	got, want := r.got, r.want
	r.mu.Unlock()
	return r, fmt.Errorf("%w: only %d responses received out of %d", ErrTimeout, got, want)
}

// FetchSockets describes the selected sockets of every server; on a
// timeout it returns those it got with an error wrapping ErrTimeout.
func (a *Adapter) FetchSockets(ctx context.Context, opts socketio.BroadcastOptions) ([]socketio.SocketInfo, error) {
	local, err := a.local.FetchSockets(ctx, opts)
	if opts.Local || err != nil {
		return local, err
	}
	r, err := a.ask(ctx, func(id string) message {
		return fetchSocketsMsg{Opts: optsFor(opts), RequestID: id}
	})
	if r != nil {
		r.mu.Lock()
		local = append(local, r.sockets...)
		r.mu.Unlock()
	}
	return local, err
}

// ServerSideEmit sends an event to the other servers; ack, when not nil,
// gets each server's reply (the first argument its handler acknowledged
// with, as Node passes it).
func (a *Adapter) ServerSideEmit(ctx context.Context, event string, args []any, ack func(socketio.Args)) error {
	packet := append([]any{event}, args...)
	if ack == nil {
		return a.publish(ctx, a.publicChannel(), serverSideEmitMsg{Packet: packet})
	}
	r, err := a.ask(ctx, func(id string) message {
		return serverSideEmitMsg{RequestID: id, Packet: packet}
	})
	if r != nil {
		r.mu.Lock()
		got := append([]socketio.Args(nil), r.acks...)
		r.mu.Unlock()
		for _, x := range got {
			ack(x)
		}
	}
	return err
}

// onMessage handles a pub/sub message of another server (requests on the
// public channel, answers on the private one).
func (a *Adapter) onMessage(payload []byte) error {
	v, err := notepack.Decode(payload)
	if err != nil {
		return err
	}
	m, ok := v.(notepack.Map)
	if !ok {
		return errMalformed
	}
	uid, _ := m.Get(keyUID)
	nsp, _ := m.Get(keyNsp)
	if uid == a.uid || nsp != a.nsp.Name() {
		return nil
	}
	t, _ := m.Get(keyType)
	typ, _ := t.(float64)
	dv, _ := m.Get(keyData)
	data, _ := dv.(notepack.Map)
	id, _ := str(data, keyRequestID)
	switch int(typ) {
	case typeBroadcast:
		if id == "" {
			return errMalformed
		}
		a.enqueue(func() {
			if err := a.onBroadcastWithAck(uid, id, data); err != nil {
				a.h.opts.Logger.Warn("streams: skipping a malformed broadcast", "err", err)
			}
		})
	case typeBroadcastClientCount, typeBroadcastAck:
		a.onAckResponse(int(typ), id, data)
	case typeFetchSockets:
		req, err := fetchSocketsMsgOf(data)
		if err != nil {
			return err
		}
		a.enqueue(func() {
			socks, _ := a.local.FetchSockets(context.Background(), req.Opts.local())
			if err := a.respond(uid, fetchSocketsResponseMsg{RequestID: id, Sockets: socks}); err != nil {
				a.h.opts.Logger.Warn("streams: answering fetchSockets", "err", err)
			}
		})
	case typeServerSideEmit:
		req, err := serverSideEmitMsgOf(data)
		if err != nil {
			return err
		}
		name, args, err := argsOf(req.Packet, true)
		if err != nil {
			return err
		}
		var ack func(args ...any)
		if id != "" {
			var once sync.Once
			ack = func(args ...any) {
				once.Do(func() {
					var v any = notepack.Undefined{}
					if len(args) > 0 {
						v = args[0]
					}
					if err := a.respond(uid, serverSideEmitResponseMsg{RequestID: id, Packet: v}); err != nil {
						a.h.opts.Logger.Warn("streams: answering a server-side event", "err", err)
					}
				})
			}
		}
		a.enqueue(func() { socketio.HostOf(a.nsp).ServerSideEmit(name, args, ack) })
	case typeFetchSocketsResponse, typeServerSideEmitResponse:
		a.mu.Lock()
		r := a.requests[id]
		a.mu.Unlock()
		if r == nil {
			return nil
		}
		if int(typ) == typeFetchSocketsResponse {
			socks := fetchSocketsResponseMsgOf(data).Sockets
			r.add(func(r *request) { r.sockets = append(r.sockets, socks...) })
			return nil
		}
		_, args, err := argsOf([]any{serverSideEmitResponseMsgOf(data).Packet}, false)
		r.add(func(r *request) {
			if err == nil {
				r.acks = append(r.acks, args)
			}
		})
	}
	return nil
}

// respond publishes an answer to the requester's private channel.
func (a *Adapter) respond(requester any, msg message) error {
	uid, _ := requester.(string)
	ctx, cancel := context.WithTimeout(context.Background(), a.h.opts.RequestsTimeout)
	defer cancel()
	return a.publish(ctx, a.h.opts.ChannelPrefix+"#"+a.nsp.Name()+"#"+uid+"#", msg)
}

// argsOf builds Args from wire values (event: the first is the name).
func argsOf(vals []any, event bool) (string, socketio.Args, error) {
	var atts [][]byte
	js, err := notepack.AppendJSON(nil, vals, func(dst, b []byte) []byte {
		dst = placeholder.Append(dst, len(atts))
		atts = append(atts, b)
		return dst
	})
	if err != nil {
		return "", socketio.Args{}, err
	}
	return socketio.NewArgs(&socketio.Packet{Type: socketio.PacketEvent, Namespace: "/", Data: js, Attachments: atts}, event)
}

const jsDateLayout = "Mon Jan 02 2006 15:04:05 GMT-0700"

// socketValue is a socket as Node's fetchSockets answers describe it.
func socketValue(s socketio.SocketInfo) notepack.Map {
	hs := notepack.Map{}
	if h := s.Handshake; h != nil {
		headers := notepack.Map{}
		for k, vs := range h.Header {
			headers = append(headers, notepack.Entry{Key: strings.ToLower(k), Value: strings.Join(vs, ", ")})
		}
		query := notepack.Map{}
		for k, vs := range h.Query {
			query = append(query, notepack.Entry{Key: k, Value: vs[0]})
		}
		var auth any = notepack.Map{}
		if v, err := notepack.ParseJSON(h.Auth); err == nil {
			auth = v
		}
		t := h.Time.UTC()
		hs = notepack.Map{
			{Key: "headers", Value: headers},
			{Key: "time", Value: t.Format(jsDateLayout) + " (Coordinated Universal Time)"},
			{Key: "address", Value: h.Address},
			{Key: "xdomain", Value: h.XDomain},
			{Key: "secure", Value: h.Secure},
			{Key: "issued", Value: t.UnixMilli()},
			{Key: "url", Value: h.URL},
			{Key: "query", Value: query},
			{Key: "auth", Value: auth},
		}
	}
	var data any = notepack.Map{}
	if s.Data != nil {
		data = s.Data
		if _, err := notepack.Encode(data); err != nil {
			js, _ := json.Marshal(s.Data)
			data = json.RawMessage(js)
		}
	}
	return notepack.Map{{Key: "id", Value: s.ID}, {Key: "handshake", Value: hs}, {Key: "rooms", Value: roomList(s.Rooms)}, {Key: "data", Value: data}}
}

// socketOf reads a socket of a fetchSockets answer; its data is JSON.
func socketOf(m notepack.Map) socketio.SocketInfo {
	var s socketio.SocketInfo
	id, _ := m.Get("id")
	s.ID, _ = id.(string)
	rv, _ := m.Get("rooms")
	s.Rooms = roomsOf(rv)
	if d, ok := m.Get("data"); ok {
		if js, err := notepack.AppendJSON(nil, d, notepack.BufferJSON); err == nil {
			s.Data = json.RawMessage(js)
		}
	}
	hs := &socketio.Handshake{Header: http.Header{}, Query: url.Values{}, Auth: json.RawMessage("{}")}
	if hv, ok := m.Get("handshake"); ok {
		if hm, ok := hv.(notepack.Map); ok {
			for _, e := range mapOf(hm, "headers") {
				if v, ok := e.Value.(string); ok {
					hs.Header.Set(textproto.CanonicalMIMEHeaderKey(e.Key), v)
				}
			}
			for _, e := range mapOf(hm, "query") {
				if v, ok := e.Value.(string); ok {
					hs.Query.Set(e.Key, v)
				}
			}
			if v, ok := hm.Get("auth"); ok {
				if js, err := notepack.AppendJSON(nil, v, notepack.BufferJSON); err == nil {
					hs.Auth = js
				}
			}
			hs.Address, _ = str(hm, "address")
			hs.URL, _ = str(hm, "url")
			if v, ok := hm.Get("issued"); ok {
				if ms, ok := v.(float64); ok {
					hs.Time = time.UnixMilli(int64(ms))
				}
			}
			if v, _ := hm.Get("secure"); v == true {
				hs.Secure = true
			}
			if v, _ := hm.Get("xdomain"); v == true {
				hs.XDomain = true
			}
		}
	}
	s.Handshake = hs
	return s
}

func mapOf(m notepack.Map, key string) notepack.Map {
	v, _ := m.Get(key)
	mm, _ := v.(notepack.Map)
	return mm
}

func str(m notepack.Map, key string) (string, bool) {
	v, _ := m.Get(key)
	s, ok := v.(string)
	return s, ok
}
