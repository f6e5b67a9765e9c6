package streams_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed servers leave no goroutine behind: the
// stream readers and the subscriber end with Shutdown and the client's
// Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
