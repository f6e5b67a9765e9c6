//go:build !linux

package main

import "errors"

// runRecvBroadcast: the receiving child reads with epoll, Linux only
// (elsewhere -broadcast-gens is 0).
func runRecvBroadcast([]string) error { return errors.New("recv-broadcast runs on Linux only") }
