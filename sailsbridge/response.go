package sailsbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// responseWriter captures a handler's response to a virtual request: the
// header map is snapshotted at WriteHeader (or the first Write), the body
// is buffered up to a limit. Flush does nothing (the JWR goes out whole);
// there is no Hijack. Once the request is answered (or abandoned after a
// timeout), writes fail with http.ErrHandlerTimeout.
type responseWriter struct {
	header http.Header     // the handler's; read by us only at WriteHeader or finish
	ctx    context.Context // the request's: past its deadline, writes fail

	mu       sync.Mutex
	wrote    bool
	status   int
	snapshot http.Header
	body     bytes.Buffer
	max      int
	tooLarge bool
	done     bool
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
)

func newResponseWriter(ctx context.Context, max int) *responseWriter {
	return &responseWriter{header: make(http.Header), ctx: ctx, max: max}
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeaderLocked(code)
}

func (w *responseWriter) writeHeaderLocked(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.wrote || w.done {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		return // informational: nothing to send over a socket
	}
	w.wrote = true
	w.status = code
	w.snapshot = w.header.Clone()
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done || w.ctx.Err() == context.DeadlineExceeded {
		return 0, http.ErrHandlerTimeout
	}
	if !w.wrote {
		w.writeHeaderLocked(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.tooLarge || w.body.Len()+len(p) > w.max {
		w.tooLarge = true
		return 0, ErrResponseTooLarge
	}
	return w.body.Write(p)
}

func (w *responseWriter) WriteString(s string) (int, error) {
	return w.Write([]byte(s))
}

// Flush does nothing: the response is sent whole when the handler returns.
func (w *responseWriter) Flush() {}

// FlushError is Flush for http.ResponseController.
func (w *responseWriter) FlushError() error { return nil }

func bodyAllowed(status int) bool {
	return status != http.StatusNoContent && status != http.StatusNotModified && (status < 100 || status > 199)
}

// abandon makes later writes fail: the request was answered without them.
func (w *responseWriter) abandon() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// captured is a finished response.
type captured struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
}

// finish ends the response, once the handler has returned.
func (w *responseWriter) finish() captured {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.wrote {
		w.wrote = true
		w.status = http.StatusOK
		w.snapshot = w.header.Clone()
	}
	w.done = true
	return captured{status: w.status, header: w.snapshot, body: w.body.Bytes(), tooLarge: w.tooLarge}
}

// reply is what a virtual request is answered with, before it becomes a
// JWR.
type reply struct {
	status int
	header http.Header
	body   any // nil (no body key), json.RawMessage, string or []byte
}

func (c captured) reply() *reply {
	return &reply{status: c.status, header: c.header, body: bodyValue(c.header.Get("Content-Type"), c.body)}
}

// statusReply is Sails' res.sendStatus(code): the status text as body,
// Node's where it differs from Go's.
func statusReply(code int) *reply {
	text := http.StatusText(code)
	if code == http.StatusRequestURITooLong {
		text = "URI Too Long"
	}
	return &reply{status: code, body: text}
}

// jwr is the JSON WebSocket Response sails.io.js expects:
// {body, headers, statusCode}, keys in that order (the encoder sorts map
// keys), body omitted when there is none, a binary body sent as an
// attachment.
func (r *reply) jwr(withHeaders, withStatus bool) map[string]any {
	m := make(map[string]any, 3)
	if r.body != nil {
		m["body"] = r.body
	}
	if withHeaders {
		m["headers"] = jwrHeaders(r.header)
	}
	if withStatus {
		m["statusCode"] = r.status
	}
	return m
}

// Response headers left out of the JWR: cookies never reach client-side
// code (the socket's cookie jar keeps them), and the framing headers say
// nothing about a JWR.
var jwrSkip = map[string]bool{
	"set-cookie":        true,
	"content-length":    true,
	"transfer-encoding": true,
	"connection":        true,
	"trailer":           true,
}

// jwrHeaders encodes headers as a JSON object with lower-case names in
// sorted order, several values joined with ", ".
func jwrHeaders(h http.Header) json.RawMessage {
	if len(h) == 0 {
		return json.RawMessage("{}")
	}
	lower := make(map[string][]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if jwrSkip[lk] || strings.HasPrefix(lk, strings.ToLower(http.TrailerPrefix)) || len(vs) == 0 {
			continue
		}
		lower[lk] = append(lower[lk], vs...)
	}
	keys := make([]string, 0, len(lower))
	for k := range lower {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		vb, _ := json.Marshal(strings.Join(lower[k], ", "))
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, vb...)
	}
	return append(out, '}')
}

// bodyValue decides how a response body travels in the JWR: JSON types as
// the JSON value, textual types as a string, others as a binary
// attachment. Without a Content-Type, a JSON object or array goes as JSON
// (what Sails' res.json sends, without a header), other UTF-8 text as a
// string. An empty body is no body.
func bodyValue(contentType string, body []byte) any {
	if len(body) == 0 {
		return nil
	}
	mt := ""
	if contentType != "" {
		if t, _, err := mime.ParseMediaType(contentType); err == nil {
			mt = t
		} else {
			mt = strings.ToLower(strings.TrimSpace(strings.Split(contentType, ";")[0]))
		}
	}
	switch {
	case mt == "":
		if t := bytes.TrimSpace(body); len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t) {
			return compactJSON(t)
		}
		return textOrBinary(body)
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		if json.Valid(body) {
			return compactJSON(body)
		}
		return textOrBinary(body)
	case textual(mt):
		return textOrBinary(body)
	}
	return bytes.Clone(body)
}

func textual(mt string) bool {
	switch mt {
	case "application/javascript", "application/x-javascript", "application/ecmascript",
		"application/xml", "application/x-www-form-urlencoded", "application/graphql":
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "+xml")
}

func textOrBinary(body []byte) any {
	if utf8.Valid(body) {
		return string(body)
	}
	return bytes.Clone(body)
}

func compactJSON(b []byte) json.RawMessage {
	var buf bytes.Buffer
	buf.Grow(len(b))
	if json.Compact(&buf, b) != nil {
		return json.RawMessage(bytes.Clone(b))
	}
	return json.RawMessage(buf.Bytes())
}
