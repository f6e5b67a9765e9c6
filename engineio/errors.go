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

// Unwrap returns ErrClosed and, when there is one, the underlying error.
func (e *CloseError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrClosed}
	}
	return []error{ErrClosed, e.Err}
}

// CloseReason returns the Reason of the *CloseError in err's chain, or ""
// when there is none.
func CloseReason(err error) string {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

// Engine.IO error codes: the "code" of the JSON body of a refused request
// and ConnectionError.Code, as Node's Server.errors.
const (
	CodeUnknownTransport           = 0 // "Transport unknown"
	CodeUnknownSID                 = 1 // "Session ID unknown"
	CodeBadHandshakeMethod         = 2 // "Bad handshake method"
	CodeBadRequest                 = 3 // "Bad request"
	CodeForbidden                  = 4 // "Forbidden"
	CodeUnsupportedProtocolVersion = 5 // "Unsupported protocol version"
)

var codeMessages = [...]string{
	CodeUnknownTransport:           "Transport unknown",
	CodeUnknownSID:                 "Session ID unknown",
	CodeBadHandshakeMethod:         "Bad handshake method",
	CodeBadRequest:                 "Bad request",
	CodeForbidden:                  "Forbidden",
	CodeUnsupportedProtocolVersion: "Unsupported protocol version",
}

// ConnectionError describes a request the server refused with the
// Engine.IO error contract, as Node's connection_error event does; see
// Options.OnConnectionError.
type ConnectionError struct {
	// Request is the refused request. It must not be kept or modified
	// after OnConnectionError returns.
	Request *http.Request
	// Code is one of the Code constants.
	Code int
	// Message is Node's message for Code ("Session ID unknown"...).
	Message string
	// Context holds the details, under Node's keys where Node has them:
	// "transport", "sid", "method", "protocol", "message" (AllowRequest's
	// error text), "error" (GenerateID's error), and "name" for the cases
	// a code covers several of (TRANSPORT_HANDSHAKE_ERROR,
	// TRANSPORT_MISMATCH, ID_GENERATION_ERROR, INVALID_ORIGIN, and
	// Pier's own ORIGIN_NOT_ALLOWED, ORIGIN_REQUIRED, INVALID_QUERY,
	// JSONP_NOT_SUPPORTED, UPGRADES_DISABLED, SERVER_SHUTTING_DOWN).
	// It may be nil.
	Context map[string]any
}

// requestError is a refused HTTP request: code is the Engine.IO error code,
// message overrides the code's standard message in the response body when
// not empty, context is ConnectionError.Context.
type requestError struct {
	code    int
	message string
	context map[string]any
}

func (e *requestError) Error() string { return "engineio: " + e.text() }

func (e *requestError) text() string {
	if e.message != "" {
		return e.message
	}
	return codeMessages[e.code]
}

func (e *requestError) status() int {
	if e.code == CodeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

func refuse(code int) *requestError { return &requestError{code: code} }

// refuseWith is refuse with a ConnectionError context of key/value pairs.
func refuseWith(code int, kv ...any) *requestError {
	ctx := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ctx[kv[i].(string)] = kv[i+1]
	}
	return &requestError{code: code, context: ctx}
}

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
