package admin

import (
	"os"
	"sort"
	"sync"
	"time"

	"github.com/pierhq/pier/engineio"
)

// bucketKey is one (second, type, subtype) bucket of aggregatedEvents.
type bucketKey struct {
	sec     int64
	typ     string
	subType string
}

// aggregatedEvent is one bucket as server_stats carries it.
type aggregatedEvent struct {
	Timestamp int64  `json:"timestamp"`
	Type      string `json:"type"`
	SubType   string `json:"subType,omitempty"`
	Count     int64  `json:"count"`
}

// stats counts the events of the current period; the buckets are drained
// by each server_stats. The number of buckets is bounded by the seconds
// of one period times the few types and close reasons.
//
// Concurrency: safe for concurrent use.
type stats struct {
	mu      sync.Mutex // leaf lock
	buckets map[bucketKey]int64
}

func newStats() *stats { return &stats{buckets: make(map[bucketKey]int64)} }

// add counts n events of typ (and subType) now.
func (st *stats) add(typ, subType string, n int64) {
	k := bucketKey{sec: time.Now().Unix(), typ: typ, subType: subType}
	st.mu.Lock()
	st.buckets[k] += n
	st.mu.Unlock()
}

// drain returns the buckets in time order and clears them.
func (st *stats) drain() []aggregatedEvent {
	st.mu.Lock()
	b := st.buckets
	st.buckets = make(map[bucketKey]int64, len(b))
	st.mu.Unlock()
	out := make([]aggregatedEvent, 0, len(b))
	for k, n := range b {
		out = append(out, aggregatedEvent{Timestamp: k.sec * 1000, Type: k.typ, SubType: k.subType, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].SubType < out[j].SubType
	})
	return out
}

type serverStats struct {
	ServerID            string            `json:"serverId"`
	Hostname            string            `json:"hostname"`
	PID                 int               `json:"pid"`
	Uptime              float64           `json:"uptime"`
	ClientsCount        int               `json:"clientsCount"`
	PollingClientsCount int               `json:"pollingClientsCount"`
	AggregatedEvents    []aggregatedEvent `json:"aggregatedEvents"`
	Namespaces          []namespaceStats  `json:"namespaces"`
}

type namespaceStats struct {
	Name         string `json:"name"`
	SocketsCount int    `json:"socketsCount"`
}

// processStart approximates the process start for the uptime.
var processStart = time.Now()

// emitStats reports upgraded connections, then sends server_stats.
func (a *Admin) emitStats() {
	polling := a.checkTransports()
	host, _ := os.Hostname()
	st := serverStats{
		ServerID:            a.opts.ServerID,
		Hostname:            host,
		PID:                 os.Getpid(),
		Uptime:              time.Since(processStart).Seconds(),
		ClientsCount:        a.io.Engine().SessionCount(),
		PollingClientsCount: polling,
		AggregatedEvents:    a.stats.drain(),
	}
	for _, n := range a.io.Namespaces() {
		st.Namespaces = append(st.Namespaces, namespaceStats{Name: n.Name(), SocketsCount: n.SocketCount()})
	}
	a.emitToAdmins("server_stats", st)
}

// checkTransports counts the connections still polling and, in
// development mode, tells the dashboards about the sockets of connections
// that moved to WebSocket since the last check (a connection never goes
// back to polling, so only the polling ones are looked at).
func (a *Admin) checkTransports() int {
	type update struct{ id, nsp, transport string }
	var updates []update
	a.mu.Lock()
	for sess, c := range a.polling {
		t := sess.Transport()
		if t == engineio.Polling {
			continue
		}
		c.transport = t
		delete(a.polling, sess)
		for _, s := range c.sockets {
			updates = append(updates, update{s.ID(), s.Namespace().Name(), t})
		}
	}
	polling := len(a.polling)
	a.mu.Unlock()
	if !a.opts.Production {
		for _, u := range updates {
			a.emitToAdmins("socket_updated", map[string]string{"id": u.id, "nsp": u.nsp, "transport": u.transport})
		}
	}
	return polling
}
