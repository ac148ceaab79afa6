package email

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/activity"
)

// MessageID returns the Message-ID (without angle brackets) of the mail that
// tells recipient email about event ev: "tidings.issue.17.r5d41402abc4b@host".
// It depends only on its arguments, so a retried job builds the same ID and
// a mail client or the ledger can tell the two copies are one mail. The
// address is hashed (case-insensitively), not shown.
func MessageID(host string, ev activity.EventRef, email string) string {
	return fmt.Sprintf("tidings.%s.%d.r%s@%s", idToken(ev.Domain), ev.ID, hashHex(strings.ToLower(strings.TrimSpace(email)), 12), host)
}

// ThreadID returns the stable id of a subject's thread, "issue-42@host": every
// mail about the subject names it in In-Reply-To and References, so mail
// clients group one issue's mails. No mail carries it as its own Message-ID;
// clients thread on it all the same.
func ThreadID(host, domain, subjectID string) string {
	return idToken(domain) + "-" + idToken(subjectID) + "@" + host
}

// DigestID returns the Message-ID of a digest for email listing the events,
// independent of their order.
func DigestID(host, email string, events []activity.EventRef) string {
	keys := make([]string, len(events))
	for i, e := range events {
		keys[i] = e.Domain + "#" + strconv.FormatInt(e.ID, 10)
	}
	slices.Sort(keys)
	sum := strings.ToLower(strings.TrimSpace(email)) + "\n" + strings.Join(keys, "\n")
	return "tidings.digest." + hashHex(sum, 24) + "@" + host
}

var plainToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// idToken keeps names that are safe in a msg-id as they are ("issue", "42",
// a UUID) and replaces any other by a hash of it.
func idToken(s string) string {
	if plainToken.MatchString(s) {
		return s
	}
	return "h" + hashHex(s, 16)
}

func hashHex(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:n]
}

var hostPattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)
