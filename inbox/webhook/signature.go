package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed webhook request.
const (
	// SignatureHeader carries "sha256=" and the hex HMAC-SHA256, keyed with
	// the rule's secret, of the timestamp, a dot and the body:
	// HMAC(secret, "1717243200." + body).
	SignatureHeader = "X-Tidings-Signature"
	// TimestampHeader carries the Unix time, in seconds, the request was
	// signed at. Receivers refuse old timestamps to stop replays.
	TimestampHeader = "X-Tidings-Timestamp"
)

// ErrInvalidSignature is returned by VerifySignature for a request that was
// not signed with the secret, or was signed too long ago.
var ErrInvalidSignature = errors.New("webhook: invalid webhook signature")

// Sign returns the SignatureHeader value for body sent at ts.
func Sign(secret []byte, ts time.Time, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a received webhook, for receivers written in Go:
// signature and timestamp are the SignatureHeader and TimestampHeader
// values, body the raw request body. It refuses a timestamp more than
// tolerance away from now (5 minutes is usual). Errors wrap
// ErrInvalidSignature.
func VerifySignature(secret []byte, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrInvalidSignature, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %v away from now; at most %v is allowed", ErrInvalidSignature, timestamp, d.Round(time.Second), tolerance)
	}
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	if !ok {
		return fmt.Errorf("%w: the signature does not start with sha256=", ErrInvalidSignature)
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return fmt.Errorf("%w: the signature is not hex", ErrInvalidSignature)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return fmt.Errorf("%w: it does not match the body and timestamp", ErrInvalidSignature)
	}
	return nil
}
