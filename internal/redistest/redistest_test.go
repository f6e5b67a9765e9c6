package redistest

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	if err := Ping(s.Addr()); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := Ping(s.Addr()); err == nil {
		t.Fatal("still answering after Stop")
	}
	s.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for Ping(s.Addr()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("not answering after Restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sh := Shared(t); sh.Addr() == s.Addr() || Ping(sh.Addr()) != nil {
		t.Fatal("shared server not distinct or not answering")
	}
}

func TestKillFreeze(t *testing.T) {
	s := Start(t)
	s.Freeze(t)
	if err := Ping(s.Addr()); err == nil {
		t.Fatal("a frozen server answered PING")
	}
	s.Thaw(t)
	if err := Ping(s.Addr()); err != nil {
		t.Fatalf("thawed: %v", err)
	}
	s.Freeze(t)
	s.Kill() // a frozen server can be killed
	if err := Ping(s.Addr()); err == nil {
		t.Fatal("still answering after Kill")
	}
	s.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for Ping(s.Addr()) != nil {
		if time.Now().After(deadline) {
			t.Fatal("not answering after Restart")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartCluster(t *testing.T) {
	c := StartCluster(t)
	if len(c.Addrs()) != 3 {
		t.Fatalf("addrs %v", c.Addrs())
	}
	for _, s := range c.Masters {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(s.Port), "cluster", "info").Output()
		if err != nil || !strings.Contains(string(out), "cluster_known_nodes:3") || !strings.Contains(string(out), "cluster_slots_assigned:16384") {
			t.Fatalf("%s: %s %v", s.Addr(), out, err)
		}
	}
}
