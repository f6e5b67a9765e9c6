package main

import (
	"fmt"
	"io"
	"runtime"
	"slices"
)

// floorServerName is the name of the floor server in -servers and in the
// results: a minimal server (serve-floor, floor_linux.go) that measures
// what the kernel alone costs in the scenarios it serves. It has no column
// in the main table and the chart; floorTable shows each server's
// distance to it.
const floorServerName = "floor"

// floorScenarios are the scenarios the floor server is run in: the
// broadcasts. It also answers the fixture's "echo", but is no floor there:
// one client's echo makes its loop sleep in epoll_wait and be woken up
// for every message, which servers that spin a little before they sleep
// (Go's scheduler) avoid, and it measured more CPU per round trip than
// Pier.
var floorScenarios = map[string]bool{
	"sio-broadcast-1000":      runtime.GOOS == "linux",
	"sio-broadcast-slow-1000": runtime.GOOS == "linux",
}

// floorNA is why the floor server has no figure in the other scenarios.
const floorNA = "the floor server is run in the Socket.IO broadcast scenarios only, on Linux"

// mainServers are the servers of the main table and the chart: all but
// the floor server.
func (rep *report) mainServers() []string {
	return slices.DeleteFunc(rep.servers(), func(s string) bool { return s == floorServerName })
}

// floorTable writes, for every metric the floor server measured, its
// figure and each other server's figure over it: how far each is from
// the least the kernel costs (1.00 is the floor itself).
func (rep *report) floorTable(w io.Writer, rows []row) {
	others := rep.mainServers()
	var lines []string
	last := ""
	for _, r := range rows {
		f, ok := r.value(floorServerName)
		if !ok {
			continue
		}
		title := ""
		if r.Scenario != last {
			title, last = r.Title, r.Scenario
		}
		arrow := " ↑"
		if r.Lower {
			arrow = " ↓"
		}
		if r.ClientBound {
			arrow += " †"
		}
		if r.Noisy {
			arrow += " ‡"
		}
		line := fmt.Sprintf("| %s | %s%s | %s |", title, r.Label, arrow, fmtNum(f))
		for _, s := range others {
			cell := "–"
			if q, ok := r.ratio(s, floorServerName); ok {
				cell = fmt.Sprintf("%.2f", q)
			}
			line += " " + cell + " |"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\nDistance to the floor: a minimal server (`pier-bench serve-floor`: the Engine.IO/Socket.IO subset of these scenarios on one epoll thread, each broadcast frame built once and written with one write(2) per member) measured in the same run; each server's figure over the floor's.")
	fmt.Fprintln(w)
	head, align := "| scenario | metric | floor |", "|---|---|---:|"
	for _, s := range others {
		head += " " + serverTitle(s) + "/floor |"
		align += "---:|"
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, align)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
