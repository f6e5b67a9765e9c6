package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// Where `make run` installs the npm files Pier serves, relative to the
// repository root.
const (
	sailsJSAsset = "testdata/js/node_modules/sails.io.js/dist/sails.io.js"
	adminUIAsset = "testdata/admin/node_modules/@socket.io/admin-ui/ui/dist"
)

// findAsset locates a file or folder that `make run` installs under the
// repository: p itself when absolute or present from the working
// directory, else rel (or p) below the first folder, walking up from the
// working directory, from the executable's folder and from this source
// file's folder (for `go run` and binaries built in the repository), that
// holds it. So the server finds it wherever it is started from.
func findAsset(p, rel string) (string, error) {
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
		if filepath.IsAbs(p) {
			return "", fmt.Errorf("%s: not found", p)
		}
		rel = p
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for {
			cand := filepath.Join(d, rel)
			if _, err := os.Stat(cand); err == nil {
				return cand, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New(rel + ": not found from the working directory, the executable or the source tree (`make run` installs it with npm)")
}
