package streams

import (
	"log/slog"
	"strconv"
	"time"
	"unicode/utf16"
)

// Options configures the adapter. A nil *Options, and every zero field,
// means the default, which is the default of the Node adapter
// (@socket.io/redis-streams-adapter 0.3.x) of the same name.
type Options struct {
	// StreamName is the stream key (Node: streamName), or the prefix of
	// the keys when StreamCount > 1. Default "socket.io".
	StreamName string
	// StreamCount spreads the namespaces over several streams (Node:
	// streamCount): a namespace uses StreamName + "-" + i, i being Node's
	// string hash of its name modulo StreamCount. Default 1.
	StreamCount int
	// MaxLen trims each stream to about this many entries at each XADD
	// (MAXLEN ~). Default 10000. It bounds how far back a reconnecting
	// client can recover.
	MaxLen int64
	// ReadCount is the most entries one XREAD returns (COUNT). Default 100.
	ReadCount int64
	// BlockTime is how long one XREAD waits for new entries (Node:
	// blockTimeInMs). Default 5s. Close returns without waiting for it:
	// the reading goroutines end at the latest BlockTime later.
	BlockTime time.Duration
	// SessionKeyPrefix prefixes the keys of the sessions kept for
	// connection state recovery. Default "sio:session:".
	SessionKeyPrefix string
	// ChannelPrefix prefixes the pub/sub channels of requests and answers
	// (Node: channelPrefix): {ChannelPrefix}#{nsp}# and
	// {ChannelPrefix}#{nsp}#{uid}#. Default "socket.io".
	ChannelPrefix string
	// RequestsTimeout bounds the wait for the other servers' answers to
	// FetchSockets and ServerSideEmit with acks. Default 5s.
	RequestsTimeout time.Duration
	// PublishTimeout bounds each XADD, go-redis' retries included. With
	// connection state recovery on, the local delivery waits for the entry
	// id; when the XADD fails, local clients still get the packet, without
	// an offset, and the entry is retried (RetryFor). Default 2s.
	PublishTimeout time.Duration
	// RetryFor is how long an entry whose XADD failed (Redis unreachable)
	// is kept and added again; entries queue behind it meanwhile, so the
	// other servers read them in order once Redis is back. Default 10s;
	// negative: no retry (the broadcast returns the error).
	RetryFor time.Duration
	// RetryQueueBytes bounds the entries kept for retry (their field
	// bytes); beyond it the oldest are dropped. Default 8 MiB.
	RetryQueueBytes int
	// Logger receives Redis errors and malformed entries. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of Options, as in the Node adapter.
const (
	DefaultStreamName       = "socket.io"
	DefaultMaxLen           = 10000
	DefaultReadCount        = 100
	DefaultBlockTime        = 5 * time.Second
	DefaultSessionKeyPrefix = "sio:session:"
	DefaultPublishTimeout   = 2 * time.Second
	DefaultChannelPrefix    = "socket.io"
	DefaultRetryFor         = 10 * time.Second
	DefaultRetryQueueBytes  = 8 << 20
	DefaultRequestsTimeout  = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.StreamName == "" {
		o.StreamName = DefaultStreamName
	}
	if o.StreamCount <= 0 {
		o.StreamCount = 1
	}
	if o.MaxLen <= 0 {
		o.MaxLen = DefaultMaxLen
	}
	if o.ReadCount <= 0 {
		o.ReadCount = DefaultReadCount
	}
	if o.BlockTime <= 0 {
		o.BlockTime = DefaultBlockTime
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = DefaultSessionKeyPrefix
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = DefaultChannelPrefix
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = DefaultRequestsTimeout
	}
	if o.RetryFor == 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.RetryQueueBytes <= 0 {
		o.RetryQueueBytes = DefaultRetryQueueBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// hashCode is JavaScript's classic string hash over UTF-16 code units,
// wrapping at 32 bits, as the Node adapter computes it.
func hashCode(s string) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = h*31 + int32(c)
	}
	return h
}

// streamOf is the stream key of namespace nsp, the one Node computes. The
// remainder of a negative hash is negative, so Node names some namespaces'
// streams StreamName + "--i", which Node servers do not read; Pier reads
// them too (streamNames), so that these namespaces work among Pier servers
// and Node's broadcasts to them still reach Pier.
func (o Options) streamOf(nsp string) string {
	if o.StreamCount <= 1 {
		return o.StreamName
	}
	i := hashCode(nsp) % int32(o.StreamCount)
	return o.StreamName + "-" + strconv.Itoa(int(i))
}

// streamNames are the streams a server reads: StreamName, or with
// StreamCount n > 1, StreamName-0 … -(n-1) and the negative -1 … -(n-1).
func (o Options) streamNames() []string {
	if o.StreamCount <= 1 {
		return []string{o.StreamName}
	}
	out := make([]string, 0, 2*o.StreamCount-1)
	for i := 0; i < o.StreamCount; i++ {
		out = append(out, o.StreamName+"-"+strconv.Itoa(i))
	}
	for i := 1; i < o.StreamCount; i++ {
		out = append(out, o.StreamName+"-"+strconv.Itoa(-i))
	}
	return out
}
