package engineio

import (
	"crypto/tls"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
)

// handshakeReq is what a session keeps of its handshake request: the
// fields Session.Request rebuilds, packed into one string. An idle session
// so keeps one small allocation instead of the request, its header map,
// URL and request line (about 1 KB).
type handshakeReq struct {
	// packed holds, each as a uvarint length then its bytes: the
	// method, protocol, Host, remote address, URL (r.URL.String()),
	// request URI ("" when equal to the URL), then a key and a value
	// for each header value.
	packed string
	tls    *tls.ConnectionState
}

// keepHandshake returns what a session keeps of r.
func keepHandshake(r *http.Request) handshakeReq {
	var u, uri string
	if urlIsRequestURI(r) {
		u = r.RequestURI
	} else {
		u, uri = r.URL.String(), r.RequestURI
		if uri == u {
			uri = ""
		}
	}
	fields := [...]string{r.Method, r.Proto, r.Host, r.RemoteAddr, u, uri}
	n := 0
	for _, f := range fields {
		n += binary.MaxVarintLen16 + len(f)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += 2*binary.MaxVarintLen16 + len(k) + len(v)
		}
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = appendField(b, f)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			b = appendField(appendField(b, k), v)
		}
	}
	return handshakeReq{packed: string(b), tls: r.TLS}
}

// urlIsRequestURI reports whether r.URL.String() equals r.RequestURI, for
// a request whose URL is an absolute path and a query (as net/http's
// server parses them), without building the string; false means unknown.
func urlIsRequestURI(r *http.Request) bool {
	u := r.URL
	if u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" || u.Fragment != "" {
		return false
	}
	p := u.EscapedPath() // allocates only when the path needs escaping
	if p == "" || p[0] != '/' {
		return false
	}
	rest, ok := strings.CutPrefix(r.RequestURI, p)
	if !ok {
		return false
	}
	if u.ForceQuery || u.RawQuery != "" {
		return len(rest) == 1+len(u.RawQuery) && rest[0] == '?' && rest[1:] == u.RawQuery
	}
	return rest == ""
}

func appendField(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// fieldReader reads the fields of a packed handshake.
type fieldReader string

func (p *fieldReader) next() string {
	s := string(*p)
	var n uint64
	var k int
	for i := 0; i < len(s); i++ { // binary.Uvarint on a string
		n |= uint64(s[i]&0x7f) << (7 * i)
		if s[i] < 0x80 {
			k = i + 1
			break
		}
	}
	f := s[k : k+int(n)]
	*p = fieldReader(s[k+int(n):])
	return f
}

// request rebuilds the handshake request.
func (h *handshakeReq) request() *http.Request {
	p := fieldReader(h.packed)
	r := &http.Request{
		Method:     p.next(),
		Proto:      p.next(),
		Host:       p.next(),
		RemoteAddr: p.next(),
		Header:     make(http.Header),
		Body:       http.NoBody,
		TLS:        h.tls,
	}
	raw := p.next()
	r.RequestURI = p.next()
	if r.RequestURI == "" {
		r.RequestURI = raw
	}
	r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(r.Proto)
	var err error
	if r.URL, err = url.Parse(raw); err != nil {
		r.URL = &url.URL{Path: raw} // unreachable: raw is a URL's String
	}
	for len(p) > 0 {
		k := p.next()
		r.Header[k] = append(r.Header[k], p.next())
	}
	return r
}
