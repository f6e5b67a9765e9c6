package engineio

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// upgradeCheckInterval is how long a poll that arrives during an upgrade
// waits before it is answered with a NOOP (the poll pending when the probe
// succeeds is answered at once, so that the client can pause polling and
// send UPGRADE). Node answers on a 100 ms interval; a poll racing the
// client's UPGRADE thus sees the upgrade done and is refused.
const upgradeCheckInterval = 100 * time.Millisecond

// payloadPool recycles the buffers polling responses are encoded into.
var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// poll answers a polling GET with everything queued, waiting until there
// is something to send, the session changes state, or the client goes away.
func (s *Server) poll(w http.ResponseWriter, r *http.Request, sess *Session) {
	sess.mu.Lock()
	if sess.closed {
		// A session closed gracefully or by the client is kept for one
		// last poll that collects its final packets.
		if sess.hbState != hbTombstone || len(sess.queue) == 0 {
			sess.mu.Unlock()
			s.refuse(w, r, false, refuse(CodeUnknownSID))
			return
		}
		batch := sess.takePollLocked()
		last := len(sess.queue) == 0
		if last {
			sess.endTombstoneLocked()
		}
		sess.mu.Unlock()
		if last {
			s.remove(sess)
		}
		s.writePayload(w, r, sess, batch, false)
		return
	}
	if sess.transport != Polling {
		sess.mu.Unlock()
		s.refuse(w, r, false, mismatch(sess))
		return
	}
	if sess.polling {
		sess.mu.Unlock()
		sess.closeWith(ReasonTransportError, errPollOverlap, closeAbort)
		s.refuse(w, r, false, refuse(CodeBadRequest))
		return
	}
	sess.polling = true
	var (
		batch []packet
		check <-chan time.Time // during an upgrade: when to answer NOOP
	)
	for {
		if sess.transport != Polling {
			// The upgrade completed while this poll waited: the client
			// broke the upgrade protocol by polling after sending UPGRADE.
			sess.polling = false
			sess.mu.Unlock()
			s.refuse(w, r, false, mismatch(sess))
			return
		}
		if len(sess.queue) > 0 {
			batch = sess.takePollLocked()
			break
		}
		if sess.closed {
			batch = []packet{{typ: typeClose}}
			break
		}
		if sess.releasePoll {
			sess.releasePoll = false
			batch = []packet{{typ: typeNoop}}
			break
		}
		if sess.upgrading && check == nil {
			check = time.After(upgradeCheckInterval)
		}
		if sess.wake == nil {
			// Made only now: most polls find something queued, and
			// a kick before there is a channel finds nobody waiting.
			sess.wake = make(chan struct{}, 1)
		}
		wake := sess.wake
		sess.mu.Unlock()
		select {
		case <-wake:
		case <-check:
			sess.mu.Lock()
			if sess.transport == Polling && len(sess.queue) == 0 && !sess.closed {
				batch = []packet{{typ: typeNoop}}
				goto done
			}
			continue
		case <-r.Context().Done():
			sess.mu.Lock()
			sess.polling = false
			sess.mu.Unlock()
			sess.closeWith(ReasonTransportError, errPollAborted, closeAbort)
			return
		}
		sess.mu.Lock()
	}
done:
	sess.polling = false
	sess.mu.Unlock()
	s.writePayload(w, r, sess, batch, false)
}

// mismatch is the refusal of a polling request to a session upgraded to
// websocket.
func mismatch(sess *Session) *requestError {
	return refuseWith(CodeBadRequest, "name", "TRANSPORT_MISMATCH", "transport", Polling, "previousTransport", WebSocket)
}

// writePayload encodes batch in the session's payload format and writes it;
// initial: it answers the handshake.
func (s *Server) writePayload(w http.ResponseWriter, r *http.Request, sess *Session, batch []packet, initial bool) {
	bp := payloadPool.Get().(*[]byte)
	buf := (*bp)[:0]
	contentType := hdrTextPlain
	switch {
	case sess.protocol == 4:
		buf = appendPayloadV4(buf, batch)
	case !sess.b64 && hasBinary(batch):
		buf = appendPayloadV3Binary(buf, batch)
		contentType = hdrOctetStream
	default:
		buf = appendPayloadV3Text(buf, batch)
	}
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.opts.PingInterval + s.opts.PingTimeout))
	h := w.Header()
	s.setHeader(h, "Content-Type", contentType)
	s.setHeader(h, "Cache-Control", hdrNoStore)
	s.writeHeaders(h, r, initial, sess.id)
	if s.opts.HTTPCompression && len(buf) >= 1024 && acceptsGzip(r) && compressible(batch) {
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		zw := gzipPool.Get().(*gzip.Writer)
		zw.Reset(w)
		zw.Write(buf)
		zw.Close()
		gzipPool.Put(zw)
	} else {
		h["Content-Length"] = contentLength(len(buf))
		w.Write(buf)
	}
	if cap(buf) <= 64<<10 {
		*bp = buf
		payloadPool.Put(bp)
	}
}

// compressible reports whether a packet of batch may be compressed: Node
// gzips a polling payload when any of its packets has the compress flag.
func compressible(batch []packet) bool {
	for _, p := range batch {
		if !p.noCompress {
			return true
		}
	}
	return false
}

var gzipPool = sync.Pool{New: func() any { return gzip.NewWriter(io.Discard) }}

func acceptsGzip(r *http.Request) bool { return headerHasToken(r.Header, "Accept-Encoding", "gzip") }

// post reads a polling POST payload and hands its packets to the session in
// order before answering "ok", so that whatever the handler sends in reply
// is queued before the client's next poll.
func (s *Server) post(w http.ResponseWriter, r *http.Request, sess *Session) {
	sess.mu.Lock()
	switch {
	case sess.closed:
		// A closed session reads no body (Node has forgotten it), except
		// one POST at a time while it awaits the last poll that collects
		// its CLOSE: the client may close too instead of polling. That
		// body is read as a live session's is, bounded in size, and by the
		// end of the wait.
		if !sess.awaitsLastPollLocked() || sess.posting {
			sess.mu.Unlock()
			s.refuse(w, r, false, refuse(CodeUnknownSID))
			return
		}
		sess.posting = true
		deadline := hbTime(sess.due)
		sess.mu.Unlock()
		closes := s.postCloses(w, r, sess, deadline)
		sess.mu.Lock()
		sess.posting = false
		sess.mu.Unlock()
		if closes {
			// The client closed too, instead of polling for our CLOSE.
			s.remove(sess)
			s.writeOK(w, r)
			return
		}
		s.refuse(w, r, false, refuse(CodeUnknownSID))
		return
	case sess.transport != Polling:
		sess.mu.Unlock()
		s.refuse(w, r, false, mismatch(sess))
		return
	case sess.posting:
		sess.mu.Unlock()
		sess.closeWith(ReasonTransportError, errPollOverlap, closeAbort)
		s.refuse(w, r, false, refuse(CodeBadRequest))
		return
	}
	sess.posting = true
	sess.mu.Unlock()
	defer func() {
		sess.mu.Lock()
		sess.posting = false
		sess.mu.Unlock()
	}()

	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.PingInterval + s.opts.PingTimeout))
	binaryBody := isOctetStream(headerGet(r.Header, "Content-Type"))
	if binaryBody && sess.protocol == 4 {
		sess.closeWith(ReasonTransportError, errBadContentType, closeAbort)
		s.refuse(w, r, false, refuse(CodeBadRequest))
		return
	}
	max := s.opts.MaxHTTPBufferSize
	if r.ContentLength > max {
		sess.closeWith(ReasonTransportError, errPayloadTooLarge, closeAbort)
		writeTooLarge(w)
		return
	}
	body, err := readBody(r, max)
	if err != nil {
		sess.closeWith(ReasonTransportError, err, closeAbort)
		s.refuse(w, r, false, refuse(CodeBadRequest))
		return
	}
	if int64(len(body)) > max {
		sess.closeWith(ReasonTransportError, errPayloadTooLarge, closeAbort)
		writeTooLarge(w)
		return
	}
	var (
		ps    []packet
		small [4]packet // most payloads hold a packet or two
	)
	switch {
	case sess.protocol == 4:
		ps, err = decodePayloadV4(small[:0], body)
	case binaryBody:
		ps, err = decodePayloadV3Binary(body)
	default:
		ps, err = decodePayloadV3Text(body)
	}
	sess.onPackets(ps, err)
	s.writeOK(w, r)
}

// writeOK answers a POST whose payload was taken.
func (s *Server) writeOK(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	s.setHeader(h, "Content-Type", hdrTextHTML)
	s.setHeader(h, "Content-Length", hdrLength2)
	s.writeHeaders(h, r, false, "")
	w.Write(okBody)
}

var okBody = []byte("ok")

// smallBody bounds the POST bodies read into a buffer of their announced
// length: a larger one grows as its bytes arrive, so that headers alone
// cannot make the server allocate MaxHTTPBufferSize.
const smallBody = 4096

// readBody reads the body of r, up to max+1 bytes (the caller refuses a
// longer one).
func readBody(r *http.Request, max int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= smallBody && n <= max {
		// net/http ends the body after n bytes.
		body := make([]byte, n)
		_, err := io.ReadFull(r.Body, body)
		return body, err
	}
	return io.ReadAll(io.LimitReader(r.Body, max+1))
}

// isOctetStream reports whether a Content-Type value has the media type
// application/octet-stream, as mime.ParseMediaType reads it, without its
// allocations when there are no parameters to check.
func isOctetStream(v string) bool {
	const octet = "application/octet-stream"
	base, params, _ := strings.Cut(v, ";")
	base = strings.TrimSpace(base)
	if len(base) != len(octet) {
		return false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != octet[i] {
			// strings.ToLower maps no other byte sequence to this ASCII
			// text ("k", the Kelvin sign's lower case, is not in it).
			return false
		}
	}
	if strings.TrimSpace(params) == "" {
		return true
	}
	// Invalid parameters may make ParseMediaType fail.
	mt, _, _ := mime.ParseMediaType(v)
	return mt == octet
}

// postCloses reports whether a POST to a closed session carries a CLOSE,
// reading at most MaxHTTPBufferSize bytes before deadline.
func (s *Server) postCloses(w http.ResponseWriter, r *http.Request, sess *Session, deadline time.Time) bool {
	http.NewResponseController(w).SetReadDeadline(deadline)
	max := s.opts.MaxHTTPBufferSize
	if r.ContentLength > max {
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max))
	if err != nil {
		return false
	}
	var ps []packet
	switch {
	case sess.protocol == 4:
		ps, _ = decodePayloadV4(nil, body)
	case isOctetStream(headerGet(r.Header, "Content-Type")):
		ps, _ = decodePayloadV3Binary(body)
	default:
		ps, _ = decodePayloadV3Text(body)
	}
	for _, p := range ps {
		if p.typ == typeClose {
			return true
		}
	}
	return false
}

func writeTooLarge(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	http.Error(w, "Payload Too Large", http.StatusRequestEntityTooLarge)
}
