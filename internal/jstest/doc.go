// Package jstest runs Node.js scripts from testdata/js against Pier servers in
// Go tests, so that Pier is checked against the official JavaScript clients
// (engine.io-client, socket.io-client, sails.io.js) rather than only against
// itself.
//
// The JavaScript dependencies are pinned in testdata/js/package.json and
// package-lock.json. [Install] runs `npm ci` when node_modules is missing or
// stale, at most once per `go test` run even when several test binaries run in
// parallel: the install happens under an exclusive flock on
// testdata/js/.install.lock and is recorded in node_modules/.pier-installed.
// Tests that use this package need node and npm on PATH; without node they
// fail rather than skip, so that CI cannot silently stop running them.
//
// Scripts report what happened as JSON objects, one per line on stdout, each
// with an "event" field, and exit 0 only when their expectations held. [Run]
// collects those lines as [Event] values and turns a non-zero exit into an
// error carrying the tail of the script's stderr.
package jstest
