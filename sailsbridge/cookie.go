package sailsbridge

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// cookieJar is a socket's Cookie header: the handshake's (with the
// cookie a SessionProvider gave merged in), updated by the Set-Cookie headers of the
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
	j.splitLocked()
	for _, c := range cookies {
		j.pairs = removeCookie(j.pairs, c.Name)
		if c.MaxAge < 0 || (!c.Expires.IsZero() && !c.Expires.After(now)) {
			continue
		}
		j.pairs = append(j.pairs, (&http.Cookie{Name: c.Name, Value: c.Value, Quoted: c.Quoted}).String())
	}
	j.raw = strings.Join(j.pairs, "; ")
}

// merge sets the cookies of the Cookie header h ("a=b; c=d"), replacing
// those of the same names and keeping the others: a session cookie made
// at connect time joins the handshake's other cookies.
func (j *cookieJar) merge(h string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.splitLocked()
	for p := range strings.SplitSeq(h, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		j.pairs = append(removeCookie(j.pairs, strings.TrimSpace(name)), p)
	}
	j.raw = strings.Join(j.pairs, "; ")
}

// splitLocked splits raw into pairs, once.
func (j *cookieJar) splitLocked() {
	if j.split {
		return
	}
	j.split = true
	for p := range strings.SplitSeq(j.raw, ";") {
		if p = strings.TrimSpace(p); p != "" {
			j.pairs = append(j.pairs, p)
		}
	}
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
