package sailsbridge

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// parseError is the error Sails sends for a virtual request it cannot
// parse (sails-hook-sockets respondWithParseError), minus the JavaScript
// stack, which a Go server has no use for.
type parseError struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Status  int    `json:"status"`
	Message string `json:"message"`
	Details string `json:"details"`
}

func newParseError(details string) *parseError {
	return &parseError{
		Code:    "SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ",
		Name:    "Error (SAILS:HOOK:SOCKETS:PARSE_VIRTUAL_REQ):",
		Status:  http.StatusBadRequest,
		Message: "Failed to parse incoming socket.io request.",
		Details: details,
	}
}

// The SDK version parameter and Sails' message for versions it refuses.
const (
	sdkVersionParam   = "__sails_io_sdk_version"
	sdkVersionMessage = "This version of Sails is not compatible with the socket.io/sails.io.js client SDK version you are using (%s). Please see https://sailsjs.com/documentation/upgrading/to-v-0-11 for more information-- then please continue upgrading all the way to the installed version of Sails."
)

// sdkVersion returns the sails.io.js version a handshake announced: the
// header first, then the query, "0.9.0" when neither has one (Sails'
// parseSdkMetadata).
func sdkVersion(hs *http.Request) string {
	v := hs.Header.Get(sdkVersionParam)
	if v == "" {
		v = hs.URL.Query().Get(sdkVersionParam)
	}
	if v == "" {
		v = "0.9.0"
	}
	return v
}

// semverRe is node-semver's strict version syntax.
var semverRe = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$`)

// checkSDKVersion reports whether v, without its prerelease part, is at
// least 0.11.0. A version that is not semver is refused (Sails crashes on
// it); v is returned as the message shows it.
func checkSDKVersion(v string) (string, bool) {
	m := semverRe.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		return v, false
	}
	var n [3]uint64
	for i := range n {
		x, err := strconv.ParseUint(m[i+1], 10, 53)
		if err != nil {
			return v, false
		}
		n[i] = x
	}
	return v, n[0] > 0 || n[1] >= 11
}

// formatS formats a JSON value as Node's util.format("%s", value) does: a
// string as is, an object or array as util.inspect with depth 0 (nested
// ones as [Object] and [Array]), on one line; nil is undefined.
func formatS(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "undefined"
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return inspect(v, 0)
}

var identRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z_0-9]*$`)

func inspect(v json.RawMessage, depth int) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '"':
		var s string
		json.Unmarshal(v, &s)
		return quoteJS(s)
	case '{':
		members, ok := objectMembers(v)
		if !ok {
			return string(v)
		}
		if len(members) == 0 {
			return "{}"
		}
		if depth > 0 {
			return "[Object]"
		}
		parts := make([]string, len(members))
		for i, m := range members {
			k := m.key
			if !identRe.MatchString(k) {
				k = quoteJS(k)
			}
			parts[i] = k + ": " + inspect(m.value, depth+1)
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	case '[':
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return string(v)
		}
		if len(elems) == 0 {
			return "[]"
		}
		if depth > 0 {
			return "[Array]"
		}
		parts := make([]string, len(elems))
		for i, e := range elems {
			parts[i] = inspect(e, depth+1)
		}
		return "[ " + strings.Join(parts, ", ") + " ]"
	}
	return string(v)
}

// quoteJS quotes s as util.inspect does: single quotes, or double quotes
// when s has single quotes and no double ones.
func quoteJS(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatInt(int64(r)+0x100, 16)[1:])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
