package vonage_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
)

// The provider posts each text as the SMS API's form: the number without
// its "+", "unicode" for a text outside the GSM alphabet, the delivery
// receipts asked at the app's StatusHandler with the tenant in the URL and
// its digest in the (signed) client-ref.
func ExampleProvider_Form() {
	p, err := vonage.New(vonage.Config{APIKey: "abcd1234", APISecret: "secret", From: "+14155550100",
		StatusCallback: "https://app.example/vonage/dlr"})
	if err != nil {
		panic(err)
	}
	form := p.Form(sms.Message{To: "+4930555007", Body: "Ана прокомментировала #7", Tenant: "acme"})
	for _, k := range []string{"api_key", "from", "to", "text", "type", "callback", "client-ref"} {
		fmt.Printf("%s: %s\n", k, form.Get(k))
	}
	// Output:
	// api_key: abcd1234
	// from: 14155550100
	// to: 4930555007
	// text: Ана прокомментировала #7
	// type: unicode
	// callback: https://app.example/vonage/dlr?tidings_tenant=acme
	// client-ref: t822b33ad87c148a0a20a5ba7cd5ebcaa
}

// Signature is what StatusHandler checks against a receipt's sig: here
// the vector of Vonage's client libraries' tests.
func ExampleSignature() {
	params := map[string]string{"a": "1", "b": "2", "timestamp": "1461605396"}
	fmt.Println(vonage.Signature(vonage.MD5Hash, "secret", params))
	fmt.Println(vonage.Signature(vonage.SHA256HMAC, "secret", params))
	// Output:
	// 6af838ef94998832dbfc29020b564830
	// A321E824B9B816BE7C3F28859A31749A098713D39F613C80D455BBAFFAE1CD24
}
