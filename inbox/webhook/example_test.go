package webhook_test

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// A receiver written in Go checks a delivery's signature: the secret
// given at subscription, the SignatureHeader and TimestampHeader values
// and the raw body. A changed body, or a replay past the tolerance, fails.
func ExampleVerifySignature() {
	secret := []byte("the subscription's secret")
	sent := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"specversion":"1.0","type":"issue.comment_added"}`)
	signature, timestamp := webhook.Sign(secret, sent, body), strconv.FormatInt(sent.Unix(), 10)

	fmt.Println(webhook.VerifySignature(secret, signature, timestamp, body, sent.Add(time.Second), 5*time.Minute))
	fmt.Println(webhook.VerifySignature(secret, signature, timestamp, []byte(`{}`), sent, 5*time.Minute) != nil)
	fmt.Println(webhook.VerifySignature(secret, signature, timestamp, body, sent.Add(time.Hour), 5*time.Minute) != nil)
	// Output:
	// <nil>
	// true
	// true
}

// Secrets are stored sealed with a keyring whose keys every process of
// the app is given from configuration, never a random key per process.
func ExampleKeyring() {
	keys, err := webhook.NewKeyring("2026", map[string][]byte{"2026": []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		panic(err)
	}
	sealed, err := keys.Seal([]byte("hook secret"), "webhook_subscriptions.secret")
	if err != nil {
		panic(err)
	}
	plain, err := keys.Open(sealed, "webhook_subscriptions.secret")
	fmt.Println(webhook.IsSealed(sealed), string(plain), err)
	// Output: true hook secret <nil>
}
