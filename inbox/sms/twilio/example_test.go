package twilio_test

import (
	"fmt"
	"net/url"

	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
)

// The provider posts each text as Twilio's Messages API form, asking for
// delivery reports at the app's StatusHandler with the message's tenant in
// the (signed) URL.
func ExampleProvider_Form() {
	p, err := twilio.New(twilio.Config{
		AccountSID: "AC" + "0123456789abcdef0123456789abcdef", AuthToken: "secret",
		From: "+14155550100", StatusCallback: "https://app.example/twilio/status",
	})
	if err != nil {
		panic(err)
	}
	form := p.Form(sms.Message{To: "+4930555007", Body: "Ana commented on #7", Tenant: "acme"})
	for _, k := range []string{"To", "From", "Body", "StatusCallback"} {
		fmt.Printf("%s: %s\n", k, form.Get(k))
	}
	// Output:
	// To: +4930555007
	// From: +14155550100
	// Body: Ana commented on #7
	// StatusCallback: https://app.example/twilio/status?tidings_tenant=acme
}

// Signature is what StatusHandler checks against X-Twilio-Signature: here
// the example of Twilio's security guide.
func ExampleSignature() {
	params := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	fmt.Println(twilio.Signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params))
	// Output: 0/KCTR6DLpKmkAf8muzZqo1nDgQ=
}
