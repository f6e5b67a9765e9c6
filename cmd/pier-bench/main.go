// Command pier-bench measures Pier against the official Node server
// (socket.io 4.8 and the engine.io it uses, in testdata/bench) in one run on
// one machine: each server is started in turn pinned to one core, the load
// generator runs on another, and the server's CPU and RSS are read from
// /proc. It prints a markdown table of Pier vs Node and writes a JSON file
// and an SVG chart per run.
//
//	pier-bench [flags]           run the benchmark (pier-bench -h for the flags)
//	pier-bench -list             list the scenarios
//	pier-bench -scale [flags]    idle connections at scale (opt-in, minutes)
//	pier-bench serve-pier ...    (internal) the Pier server under test
//	pier-bench dial-idle ...     (internal) a load-generator child of -scale
//	pier-bench serve-floor ...   (internal) the floor server (floor_linux.go)
//	pier-bench recv-broadcast .. (internal) a receiving child of the broadcast scenarios
//
// The load generator speaks raw Engine.IO (and, for the Socket.IO
// scenarios, raw Socket.IO) over websocket and long-polling, with a minimal
// client of its own so that the server is what is measured.
//
// -scale is a separate run, not part of the default one: it holds idle
// Socket.IO websocket connections (each joined to one room) at the most
// one process can hold under the open-files limit (-scale-single, 19,000 by
// default, on each of -servers), then on a cluster of Pier processes that
// share one Redis adapter (-scale-cluster, 3x19000 by default; it starts
// its own redis-server, which must be on PATH or given by -redis-server).
// The open-files limit is per process, so each server gets its own
// load-generator child (pier-bench dial-idle); every child and server, and
// redis-server, dies with the runner (Pdeathsig on Linux). It reports RSS
// per connection after -settle, after -scale-hold (one heartbeat) and after
// the broadcasts, projects RSS to 100,000 connections (RSS before + 100,000
// × KB per connection), and proves the cluster works at that size: each of
// -scale-broadcasts broadcasts, emitted on the first server, must reach
// every client (counted by the children, with the time to the last
// delivery), and no connection may be lost, or the run fails. The tables
// go to stdout and scale-*.{json,md} in -out.
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "serve-pier":
		err = runServePier(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "dial-idle":
		err = runDialIdle(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "serve-floor":
		err = runServeFloor(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "recv-broadcast":
		err = runRecvBroadcast(os.Args[2:])
	default:
		err = runBench(os.Args[1:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pier-bench:", err)
		os.Exit(1)
	}
}
