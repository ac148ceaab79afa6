package chat_test

import (
	"fmt"
	"time"

	"github.com/tidingsdev/tidings/inbox/chat"
)

// A 429's Retry-After as the chat services send it: seconds (Discord
// sends fractions) or an HTTP date.
func ExampleParseRetryAfter() {
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	for _, v := range []string{"2", "0.25", "Mon, 07 Dec 2026 09:00:30 GMT", "soon"} {
		d, ok := chat.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2s true
	// 250ms true
	// 30s true
	// 0s false
}
