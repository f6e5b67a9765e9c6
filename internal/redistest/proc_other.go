//go:build !linux

package redistest

import (
	"errors"
	"os"
	"syscall"
)

func procAttr() *syscall.SysProcAttr { return nil }

var errNoFreeze = errors.New("freezing a process needs Linux")

func freeze(*os.Process) error { return errNoFreeze }
func thaw(*os.Process) error   { return errNoFreeze }
