// Command pier-bench measures Pier against the official Node server
// (socket.io 4.8 and the engine.io it uses, in testdata/bench) in one run on
// one machine: each server is started in turn pinned to one core, the load
// generator runs on another, and the server's CPU and RSS are read from
// /proc. It prints a markdown table of Pier vs Node and writes a JSON file
// and an SVG chart per run.
//
//	pier-bench [flags]           run the benchmark (pier-bench -h for the flags)
//	pier-bench -list             list the scenarios
//	pier-bench serve-pier ...    (internal) the Pier server under test
//
// The load generator speaks raw Engine.IO (and, for the Socket.IO
// scenarios, raw Socket.IO) over websocket and long-polling, with a minimal
// client of its own so that the server is what is measured.
package main

import (
	"fmt"
	"os"
	"syscall"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "serve-pier":
		err = runServePier(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "dial-idle":
		err = runDialIdle(os.Args[2:])
	default:
		err = runBench(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pier-bench:", err)
		os.Exit(1)
	}
}

// raiseNofile raises the soft limit of open files to the hard limit. It is
// set explicitly (rather than relying on the Go runtime's own raise) so that
// the child processes started by the runner inherit it too.
func raiseNofile() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, err
	}
	return l.Cur, nil
}
