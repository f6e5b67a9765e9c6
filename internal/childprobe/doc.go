// Package childprobe measures a server running in a test process against
// clients held by a child process: the same test binary, run again for one
// test, so that the clients' memory and CPU time are not in the figures.
//
// The parent starts the child with Start and talks to it in lines over its
// stdin and stdout; the child, seeing the environment variable the parent
// set, runs Ready or Lines instead of the test. ReadMem and CPUTime sample
// the parent, and WS is a minimal websocket client for the child.
//
// It is test support: nothing outside the module's tests uses it.
package childprobe
