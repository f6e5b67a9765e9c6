package socketio

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/wiretest"
)

// An adapter factory that waits (redisadapter subscribes, up to seconds)
// holds up neither connections to other namespaces nor other lookups, and
// concurrent clients of one new dynamic namespace get it created once.
func TestNamespaceBuiltOutsideLock(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	var slowCalls atomic.Int32
	srv, url := newTestServer(t, &Options{Adapter: func(n *Namespace) Adapter {
		if strings.HasPrefix(n.Name(), "/slow") {
			slowCalls.Add(1)
			<-release
		}
		return NewLocalAdapter(n)
	}})
	t.Cleanup(unblock) // before the server's cleanup, which would wait for it
	parent := srv.OfRegexp(regexp.MustCompile(`^/slow`))

	// Two clients ask for the same new dynamic namespace; its factory blocks.
	slow := []*wiretest.Conn{}
	for range 2 {
		c := dialRaw(t, url, 4)
		if err := c.Send("40/slow-1,"); err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
	}
	deadline := time.Now().Add(20 * time.Second)
	for slowCalls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if slowCalls.Load() == 0 {
		t.Fatal("the factory of /slow-1 never ran")
	}

	// Meanwhile "/" and a static namespace declared now connect at once.
	c := dialRaw(t, url, 4)
	meanwhile := make(chan string, 1)
	go func() {
		srv.Of("/other")
		c.Send("40")
		c.Send("40/other,")
		var got []string
		for len(got) < 2 {
			p, err := c.Read(20 * time.Second)
			if err != nil {
				break
			}
			got = append(got, p)
		}
		meanwhile <- strings.Join(got, " ")
	}()
	select {
	case got := <-meanwhile:
		if !regexp.MustCompile(`^40\{"sid":"[^"]+"\} 40/other,\{"sid":"[^"]+"\}$`).MatchString(got) {
			t.Fatalf("connects to / and /other while a factory waits: %q", got)
		}
	case <-time.After(20 * time.Second):
		unblock()
		t.Fatal("connects to / and /other waited for the factory of another namespace")
	}

	unblock()
	for i, s := range slow {
		if got := readUntil(t, s, "40/"); !strings.HasPrefix(got, `40/slow-1,{"sid":`) {
			t.Fatalf("slow client %d: %q", i, got)
		}
	}
	if n := slowCalls.Load(); n != 1 {
		t.Fatalf("factory of /slow-1 ran %d times, want 1", n)
	}
	if ch := parent.Children(); len(ch) != 1 || ch[0].SocketCount() != 2 {
		t.Fatalf("children %v", ch)
	}
}
