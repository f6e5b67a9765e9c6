package sailsbridge

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// cookieJar is a socket's Cookie header: the handshake's (or the one a
// SessionProvider gave), updated by the Set-Cookie headers of the
// socket's virtual responses, which the client never sees. Attributes
// (Path, Domain, Secure, ...) are ignored: every cookie goes with every
// request of the socket. While no response set a cookie, the header is the
// handshake's, byte for byte.
type cookieJar struct {
	mu    sync.Mutex
	raw   string   // the current Cookie header
	pairs []string // raw split into "name=value" pairs, once updated
	split bool
}

func (j *cookieJar) reset(h string) {
	j.mu.Lock()
	j.raw, j.pairs, j.split = h, nil, false
	j.mu.Unlock()
}

func (j *cookieJar) header() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.raw
}

// update applies the Set-Cookie lines of a response.
func (j *cookieJar) update(h http.Header) {
	if len(h.Values("Set-Cookie")) == 0 {
		return
	}
	cookies := (&http.Response{Header: h}).Cookies()
	if len(cookies) == 0 {
		return
	}
	now := time.Now()
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.split {
		j.split = true
		for p := range strings.SplitSeq(j.raw, ";") {
			if p = strings.TrimSpace(p); p != "" {
				j.pairs = append(j.pairs, p)
			}
		}
	}
	for _, c := range cookies {
		j.pairs = removeCookie(j.pairs, c.Name)
		if c.MaxAge < 0 || (!c.Expires.IsZero() && !c.Expires.After(now)) {
			continue
		}
		j.pairs = append(j.pairs, (&http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}).String())
	}
	j.raw = strings.Join(j.pairs, "; ")
}

func removeCookie(pairs []string, name string) []string {
	out := pairs[:0]
	for _, p := range pairs {
		n, _, _ := strings.Cut(p, "=")
		if strings.TrimSpace(n) != name {
			out = append(out, p)
		}
	}
	return out
}
