package childprobe

import (
	"strconv"
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the user and system CPU time this process has used.
func CPUTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// Compare measures this process's CPU time per round trip while child c
// makes n round trips per round (it is sent n and answers "done"): one
// warm-up round, then six rounds alternating set(true) and set(false). It
// logs each round and the figures of both settings, named by what.
func Compare(t testing.TB, c *Child, n int, what string, set func(on bool)) {
	t.Helper()
	round := func() (cpu, wall time.Duration) {
		c0, start := CPUTime(), time.Now()
		c.Say(strconv.Itoa(n))
		c.Expect(t, "done")
		return CPUTime() - c0, time.Since(start)
	}
	round() // warm-up
	sum := map[bool][]float64{}
	for i := range 6 {
		on := i%2 == 0
		set(on)
		cpu, wall := round()
		us := float64(cpu.Microseconds()) / float64(n)
		sum[on] = append(sum[on], us)
		t.Logf("%s %v: server CPU %.1f µs per round trip, %.1f µs wall", what, on, us, float64(wall.Microseconds())/float64(n))
	}
	t.Logf("server CPU µs per round trip: %s on %v, off %v", what, sum[true], sum[false])
}
