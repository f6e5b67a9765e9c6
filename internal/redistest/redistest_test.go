package redistest

import (
	"testing"
	"time"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr()); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := ping(s.Addr()); err == nil {
		t.Fatal("still answering after Stop")
	}
	s.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for ping(s.Addr()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("not answering after Restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sh := Shared(t); sh.Addr() == s.Addr() || ping(sh.Addr()) != nil {
		t.Fatal("shared server not distinct or not answering")
	}
}
