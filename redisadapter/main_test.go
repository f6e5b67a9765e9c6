package redisadapter_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that closed servers leave no goroutine behind: the
// adapters' readers, workers and health checks all end with Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
