package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// clientBundle is the folder of the socket.io-client dist files.
type clientBundle struct {
	dir  string
	fsys fs.FS
}

// npmDirs are the node_modules folders searched, in order, for the
// browser bundles (see searchRoots).
const (
	clientDist  = "node_modules/socket.io-client/dist"
	sailsIOFile = "node_modules/sails.io.js/dist/sails.io.js"
)

// searchRoots are the folders whose node_modules may hold the pinned npm
// packages, in order: next to the binary (and its testdata/js when the
// binary sits in the repository's bin/), the working directory and its
// parents' testdata/js, and the module's own testdata/js, where `make`
// installs them.
func searchRoots() []string {
	var roots []string
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dir := filepath.Dir(exe)
		roots = append(roots, dir, filepath.Join(dir, "..", "testdata", "js"))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, filepath.Join(d, "testdata", "js"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		roots = append(roots, filepath.Join(filepath.Dir(file), "..", "..", "testdata", "js"))
	}
	return roots
}

// findClient returns the client bundle to serve: dir when given (it must
// hold socket.io.js), else the first of searchRoots that has one; nil when
// serve is false or nothing is found.
func findClient(dir string, serve bool) (*clientBundle, error) {
	if !serve {
		return nil, nil
	}
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "socket.io.js")); err != nil {
			return nil, fmt.Errorf("clientDir %s: no socket.io.js there (the dist folder of socket.io-client)", dir)
		}
		return &clientBundle{dir: dir, fsys: os.DirFS(dir)}, nil
	}
	for _, root := range searchRoots() {
		d := filepath.Join(root, clientDist)
		if _, err := os.Stat(filepath.Join(d, "socket.io.js")); err == nil {
			return &clientBundle{dir: filepath.Clean(d), fsys: os.DirFS(d)}, nil
		}
	}
	return nil, nil
}

// findSailsJS returns where the sails.io.js bundle is, searched as the
// client bundle is (the demo page reports it missing when none is).
func findSailsJS() string {
	for _, root := range searchRoots() {
		p := filepath.Join(root, sailsIOFile)
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p)
		}
	}
	return filepath.Join("testdata", "js", sailsIOFile)
}
