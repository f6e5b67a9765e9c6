package childprobe

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Mem is a sample of this process's memory, in bytes.
type Mem struct {
	Heap, Inuse uint64 // live heap and heap in use after two GCs
	TotalAlloc  uint64 // allocated so far
	RSS         int64  // resident set (0 where /proc is missing)
}

// ReadMem runs the garbage collector twice and samples the memory.
func ReadMem() Mem {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	m := Mem{Heap: ms.HeapAlloc, Inuse: ms.HeapInuse, TotalAlloc: ms.TotalAlloc}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				m.RSS = kb << 10
			}
		}
	}
	return m
}

// EnvInt returns the integer in environment variable name, or def when it
// is unset or not an integer.
func EnvInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// HeapProfile, when environment variable env names a file, samples every
// allocation from now on and returns a function that writes the heap
// profile to that file; otherwise the function does nothing.
func HeapProfile(env string) (write func()) {
	file := os.Getenv(env)
	if file == "" {
		return func() {}
	}
	runtime.MemProfileRate = 64
	return func() {
		if f, err := os.Create(file); err == nil {
			pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
}
