package twilio_test

import (
	"net/url"
	"testing"

	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
)

// Twilio's documented example of a signed request (its security guide):
// both the handler's Signature and the local Twilio's Sign give Twilio's
// answer.
func TestSignatureMatchesTwiliosExample(t *testing.T) {
	u := "https://mycompany.com/myapp.php?foo=1&bar=2"
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	const want = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	if got := twilio.Signature("12345", u, params); got != want {
		t.Errorf("Signature = %s, want %s", got, want)
	}
	if got := twiliotest.Sign("12345", u, params); got != want {
		t.Errorf("twiliotest.Sign = %s, want %s", got, want)
	}
}
