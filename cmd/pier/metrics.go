package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/pierhq/pier/socketio"
)

// metrics are Pier's Prometheus series, all named pier_*, on a registry
// of their own (with the Go runtime and process collectors). Labels have
// few values: no room, socket or client label anywhere.
type metrics struct {
	reg *prometheus.Registry

	refused      *prometheus.CounterVec   // reason
	httpBytes    *prometheus.CounterVec   // direction
	virtual      *prometheus.CounterVec   // status class
	virtualTime  prometheus.Histogram     //
	connects     prometheus.Counter       //
	disconnects  *prometheus.CounterVec   // reason
	slowClients  prometheus.Counter       //
	redisErrors  *prometheus.CounterVec   // kind: publish, subscribe, other
	redisLatency *prometheus.HistogramVec // kind
	packets      *packetCounters
	broadcasts   prometheus.Counter
	deliveries   prometheus.Counter
	acksPending  prometheus.Gauge
	ackTimeouts  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_handshakes_refused_total", Help: "Engine.IO handshakes refused, by reason.",
		}, []string{"reason"}),
		httpBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_polling_bytes_total", Help: "Bytes of HTTP long-polling bodies, by direction (in, out).",
		}, []string{"direction"}),
		virtual: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_virtual_requests_total", Help: "Sails virtual requests served, by status class (2xx, 4xx...).",
		}, []string{"status"}),
		virtualTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pier_virtual_request_seconds", Help: "Time to serve a Sails virtual request.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pier_connects_total", Help: "Sockets connected to the main namespace.",
		}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_disconnects_total", Help: "Sockets of the main namespace disconnected, by reason.",
		}, []string{"reason"}),
		slowClients: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pier_slow_client_closes_total", Help: "Connections closed because they did not read what was sent to them.",
		}),
		redisErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pier_redis_errors_total", Help: "Redis commands that failed, by kind (publish, subscribe, other).",
		}, []string{"kind"}),
		redisLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pier_redis_request_seconds", Help: "Redis command latency, by kind (publish, subscribe, other).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.connects, m.disconnects, m.slowClients, m.refused, m.httpBytes, m.virtual, m.virtualTime, m.redisErrors, m.redisLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.packets = newPacketCounters(m.reg)
	m.broadcasts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pier_broadcasts_total", Help: "Broadcasts sent to this process's sockets.",
	})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pier_broadcast_deliveries_total", Help: "Sockets reached by broadcasts (one per recipient).",
	})
	m.acksPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pier_acks_pending", Help: "Server emits waiting for a client acknowledgement.",
	})
	m.ackTimeouts = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "pier_ack_timeouts_total", Help: "Server emits whose acknowledgement did not come in time.",
	})
	m.reg.MustRegister(m.broadcasts, m.deliveries, m.acksPending, m.ackTimeouts)
	return m
}

// observer is the Socket.IO server's observer feeding the metrics.
func (m *metrics) observer() *socketio.Observer {
	return &socketio.Observer{
		Broadcast: func(_ *socketio.Namespace, n int) {
			m.broadcasts.Inc()
			m.deliveries.Add(float64(n))
		},
		AckWaiting: func(d int) { m.acksPending.Add(float64(d)) },
		AckTimeout: m.ackTimeouts.Inc,
	}
}

// parser wraps p (nil: the default) to count packets and bytes.
func (m *metrics) parser(p socketio.Parser) socketio.Parser {
	if p == nil {
		p = socketio.DefaultParser()
	}
	return countingParser{p, m.packets}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// disconnectReasons are the reasons counted by name; others count as
// "other", so that the label keeps few values.
var disconnectReasons = map[string]bool{
	"transport close": true, "transport error": true, "ping timeout": true, "parse error": true,
	"forced close": true, "server shutting down": true, "slow client": true, "bad request": true,
	"server namespace disconnect": true, "client namespace disconnect": true,
}

// watch adds the gauges read from io at scrape time (connections by
// transport and protocol, sockets by namespace) and counts the connects
// and disconnects of the main namespace.
func (m *metrics) watch(io *socketio.Server, d *drainer) {
	io.Of("/").OnConnection(func(s *socketio.Socket) {
		m.connects.Inc()
		s.OnDisconnect(func(_ *socketio.Socket, reason string) {
			if reason == "slow client" {
				m.slowClients.Inc()
			}
			if !disconnectReasons[reason] {
				reason = "other"
			}
			m.disconnects.WithLabelValues(reason).Inc()
		})
	})
	m.reg.MustRegister(&socketCollector{d: d,
		conns: prometheus.NewDesc("pier_connections", "Connected clients of the main namespace, by transport and Engine.IO protocol version.", []string{"transport", "protocol"}, nil),
		socks: prometheus.NewDesc("pier_sockets", "Connected sockets, by namespace.", []string{"namespace"}, nil),
		ns:    []*socketio.Namespace{io.Of("/")},
	})
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "pier_engine_sessions", Help: "Open Engine.IO sessions.",
	}, func() float64 { return float64(io.Engine().SessionCount()) }))
}

type socketCollector struct {
	d            *drainer
	conns, socks *prometheus.Desc
	ns           []*socketio.Namespace
}

func (c *socketCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.conns; ch <- c.socks }

func (c *socketCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct {
		transport string
		protocol  int
	}
	counts := map[key]int{}
	for _, s := range c.d.sockets() {
		if sess := s.Session(); sess != nil {
			counts[key{sess.Transport(), sess.Protocol()}]++
		}
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(n), k.transport, strconv.Itoa(k.protocol))
	}
	for _, n := range c.ns {
		ch <- prometheus.MustNewConstMetric(c.socks, prometheus.GaugeValue, float64(n.SocketCount()), n.Name())
	}
}

// trackVirtual wraps the handler of virtual requests to count them by
// status class and time them.
func (m *metrics) trackVirtual(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		m.virtualTime.Observe(time.Since(start).Seconds())
		m.virtual.WithLabelValues(statusClass(sw.status)).Inc()
	})
}

func statusClass(code int) string {
	if code == 0 {
		code = http.StatusOK
	}
	return strconv.Itoa(code/100) + "xx"
}

// wrapHTTP counts the polling bytes of the Engine.IO path and the
// handshakes refused there, on either transport.
func (m *metrics) wrapHTTP(next http.Handler, path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, path) {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		polling, handshake := q.Get("transport") == "polling", q.Get("sid") == "" && q.Has("EIO")
		if !polling && !handshake {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, keepHead: handshake}
		if polling && r.ContentLength > 0 {
			m.httpBytes.WithLabelValues("in").Add(float64(r.ContentLength))
		}
		next.ServeHTTP(sw, r)
		if polling {
			m.httpBytes.WithLabelValues("out").Add(float64(sw.bytes))
		}
		if handshake && sw.status >= 400 {
			m.refused.WithLabelValues(refusalReason(sw.status, sw.head)).Inc()
		}
	})
}

// engineErrors are the Engine.IO error codes and texts, as reasons.
var engineErrors = []struct {
	code   int
	text   string
	reason string
}{
	{0, "Transport unknown", "unknown_transport"},
	{1, "Session ID unknown", "unknown_sid"},
	{2, "Bad handshake method", "bad_handshake_method"},
	{3, "Bad request", "bad_request"},
	{4, "Forbidden", "forbidden"},
	{5, "Unsupported protocol version", "unsupported_protocol_version"},
}

// refusalReason names a refused handshake from its answer: the Engine.IO
// error (polling: {"code":N,"message":...}; websocket: the message text),
// "draining" during a drain, "forbidden" for other refusals of
// AllowRequest, else the HTTP status.
func refusalReason(status int, head []byte) string {
	var body struct {
		Code    *int
		Message string
	}
	msg := string(head)
	if json.Unmarshal(head, &body) == nil && body.Code != nil {
		msg = body.Message
		if *body.Code != 4 {
			for _, e := range engineErrors {
				if e.code == *body.Code {
					return e.reason
				}
			}
		}
	}
	if msg == errDraining.Error() {
		return "draining"
	}
	for _, e := range engineErrors {
		if msg == e.text {
			return e.reason
		}
	}
	if status == http.StatusForbidden || status == http.StatusBadRequest {
		return "forbidden" // refused by AllowRequest (origin, protocol version)
	}
	return "http_" + strconv.Itoa(status)
}

// statusWriter remembers the status and counts the bytes written; with
// keepHead, it keeps the start of an error answer.
type statusWriter struct {
	http.ResponseWriter
	status   int
	bytes    int
	keepHead bool
	head     []byte
}

// Hijack lets websocket upgrades through.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	return h.Hijack()
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.keepHead && w.status >= 400 && len(w.head) < 256 {
		w.head = append(w.head, b[:min(len(b), 256-len(w.head))]...)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes on.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// redisHook counts failed Redis commands and times them.
func (m *metrics) redisHook() redis.Hook { return redisMetrics{m} }

type redisMetrics struct{ m *metrics }

func (h redisMetrics) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			h.m.redisErrors.WithLabelValues("dial").Inc()
		}
		return c, err
	}
}

func (h redisMetrics) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		kind := redisKind(cmd.Name())
		h.m.redisLatency.WithLabelValues(kind).Observe(time.Since(start).Seconds())
		if err != nil && err != redis.Nil {
			h.m.redisErrors.WithLabelValues(kind).Inc()
		}
		return err
	}
}

func (h redisMetrics) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err != nil && err != redis.Nil {
			h.m.redisErrors.WithLabelValues("other").Inc()
		}
		return err
	}
}

// redisKind groups Redis commands into a few label values.
func redisKind(name string) string {
	switch strings.ToLower(name) {
	case "publish", "spublish":
		return "publish"
	case "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe":
		return "subscribe"
	default:
		return "other"
	}
}
