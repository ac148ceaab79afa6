package main

import (
	"sync"
	"testing"
)

// testLog returns a Config.Log that writes to t until t's cleanups run,
// and drops lines after: a job or goroutine that outlives the app's Close
// (a Slack retry under load) must not log through a finished test, which
// panics.
func testLog(t *testing.T) func(format string, args ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
}
