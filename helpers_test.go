package tidings_test

import (
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// workerDefaults keeps test workers' shutdown short.
func workerDefaults() inbox.Config {
	return inbox.Config{ShutdownTimeout: 2 * time.Second, Concurrency: 4}
}
