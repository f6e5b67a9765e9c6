package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// ErrClosed is returned by Send and Read once the session is closed. The
// reason is in context.Cause(s.Context()), a *CloseError.
var ErrClosed = errors.New("engineio: session closed")

// Close reasons, as Node's engine.io names them. They are the Reason of the
// *CloseError that ends a session.
const (
	ReasonTransportClose = "transport close"      // the client closed, or its connection went away
	ReasonTransportError = "transport error"      // reading or writing the connection failed
	ReasonPingTimeout    = "ping timeout"         // no heartbeat in time
	ReasonParseError     = "parse error"          // the client sent an invalid packet or payload
	ReasonForcedClose    = "forced close"         // Session.Close was called
	ReasonShutdown       = "server shutting down" // Server.Shutdown or Close
	ReasonSlowClient     = "slow client"          // the outbox went over its bound
	ReasonBadRequest     = "bad request"          // a polling request broke the protocol (overlap, size)
)

// CloseError is the cause of a session's end.
type CloseError struct {
	Reason string // one of the Reason constants
	Err    error  // the underlying error, if any
}

func (e *CloseError) Error() string {
	if e.Err != nil {
		return "engineio: session closed: " + e.Reason + ": " + e.Err.Error()
	}
	return "engineio: session closed: " + e.Reason
}

func (e *CloseError) Unwrap() []error { return []error{ErrClosed, e.Err} }

// CloseReason returns the Reason of the *CloseError in err's chain, or ""
// when there is none.
func CloseReason(err error) string {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// Engine.IO HTTP error codes (the "code" of the JSON error body).
const (
	codeUnknownTransport   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	codeUnknownTransport:   "Transport unknown",
	codeUnknownSID:         "Session ID unknown",
	codeBadHandshakeMethod: "Bad handshake method",
	codeBadRequest:         "Bad request",
	codeForbidden:          "Forbidden",
	codeUnsupportedVersion: "Unsupported protocol version",
}

// requestError is a refused HTTP request: code is the Engine.IO error code,
// message overrides the code's standard message when not empty.
type requestError struct {
	code    int
	message string
}

func (e *requestError) Error() string { return "engineio: " + e.text() }

func (e *requestError) text() string {
	if e.message != "" {
		return e.message
	}
	return codeMessages[e.code]
}

func (e *requestError) status() int {
	if e.code == codeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

func refuse(code int) *requestError { return &requestError{code: code} }

// writeHTTPError answers a polling or handshake request with the Engine.IO
// JSON error body.
func writeHTTPError(w http.ResponseWriter, e *requestError) {
	body := make([]byte, 0, 64)
	body = append(body, `{"code":`...)
	body = strconv.AppendInt(body, int64(e.code), 10)
	body = append(body, `,"message":`...)
	msg, _ := json.Marshal(e.text())
	body = append(body, msg...)
	body = append(body, '}')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status())
	w.Write(body)
}

// writeUpgradeError refuses a websocket upgrade with a plain 400, whatever
// the reason, as Node does.
func writeUpgradeError(w http.ResponseWriter, e *requestError) {
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Connection", "close")
	w.WriteHeader(http.StatusBadRequest)
	w.Write([]byte(e.text()))
}

var errNoInbox = errors.New("engineio: Read on a session not served by a HandlerFunc")
