//go:build windows

package main

import "errors"

// raiseNofile has nothing to raise on Windows: the scale runs that need many
// descriptors are Linux-only.
func raiseNofile() (uint64, error) {
	return 0, errors.New("no file-descriptor limit to raise on windows")
}
