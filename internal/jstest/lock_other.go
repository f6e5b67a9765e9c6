//go:build !unix

package jstest

// lockFile is a no-op where flock is unavailable: concurrent test binaries
// may then race on the first install.
func lockFile(path string) (unlock func(), err error) {
	return func() {}, nil
}
