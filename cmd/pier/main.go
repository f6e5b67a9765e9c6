// Command pier serves Socket.IO, Engine.IO and sails.io.js clients.
//
//	pier [-config FILE] [-key value...]  serve Pier (see `pier -h` for every key)
//	pier config check FILE               validate FILE and print the effective configuration
//	pier conformance [-addr host:port]   serve the fixture of the official protocol test suites (default :3000)
//
// Every configuration key is set, in rising precedence, by its default, the
// YAML file of -config, the environment (PIER_ + the key in upper snake
// case) and a flag (-key, nested keys joined with a dot).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strings"
)

func main() {
	err := run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pier:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors, 1 otherwise.
func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// usageError is a command line that cannot be run.
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

func run(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "conformance":
			return runConformance(args[1:])
		case "config":
			return runConfig(args[1:], environ, stdout, stderr)
		case "serve":
			args = args[1:]
		case "help":
			args = []string{"-h"}
		}
	}
	o, err := loadConfig("pier", args, environ, func(fs *flag.FlagSet) { printUsage(stderr, fs) })
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	return runServe(o)
}

// runConfig is `pier config check FILE`.
func runConfig(args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{errors.New("usage: pier config check FILE [-key value...]")}
	}
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return usageError{errors.New("usage: pier config check FILE [-key value...]")}
	}
	o, err := loadConfig("pier config check", append([]string{"-config", args[1]}, args[2:]...), environ, nil)
	if err != nil {
		return usageError{err}
	}
	out, err := masked(o.cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %s: valid; the effective configuration (secrets masked):\n", args[1])
	_, err = stdout.Write(out)
	return err
}

// printUsage is `pier -h`.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  pier [-config FILE] [-key value...]   serve Socket.IO, Engine.IO and sails.io.js clients
  pier config check FILE                validate FILE and print the effective configuration
  pier conformance [-addr host:port]    serve the fixture of the official protocol test suites
  pier -h                               this help

Every key is set by, in rising precedence: its default, the YAML file of
-config (or PIER_CONFIG), the environment variable, the flag. Durations are
milliseconds (as in Node) or Go durations (25s); lists are comma-separated
in the environment and in flags. NODE_ENV=production selects production and
REDIS_URL sets redis.url when the PIER_ variables do not.

Flags and environment variables:
  -config FILE  (PIER_CONFIG)
        YAML configuration file
`)
	var c Config
	def := defaultConfig()
	defs := map[string]string{}
	for _, f := range fields(&def) {
		defs[f.key] = fmt.Sprint(f.v.Interface())
	}
	for _, f := range fields(&c) {
		d := defs[f.key]
		if f.v.Kind() == reflect.Slice {
			d = strings.Trim(d, "[]")
			d = strings.ReplaceAll(d, " ", ",")
		}
		if d != "" && d != "false" && d != "0s" && d != "0" {
			d = " (default " + d + ")"
		} else {
			d = ""
		}
		fmt.Fprintf(w, "  -%s  (%s)\n        %s%s\n", f.key, f.env, f.help, d)
	}
	fmt.Fprintln(w, "\nOlder flag names still accepted: -log-level, -redis, -redis-cluster, -redis-sharded, -sails-js, -client-dir.")
}

// newLogger is the plain logger of `pier conformance`.
func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, err
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func flags(name, defAddr string) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	addr := fs.String("addr", defAddr, "listen address host:port")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	return fs, addr, level
}
