package sms_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/sms"
)

// A text is cut to one GSM segment with three dots, not "…" (one character
// outside the GSM alphabet would make it UCS-2: 70 characters a segment).
func ExampleCut() {
	fmt.Println(sms.Cut("Ana commented on #7: the build fails on Windows since the last release", 40))
	fmt.Println(sms.Cut("Ana closed #7", 40))
	// Output:
	// Ana commented on #7: the build fails...
	// Ana closed #7
}
