package webpush_test

import (
	"encoding/base64"
	"fmt"

	"github.com/tidingsdev/tidings/inbox/webpush"
)

// An app makes its VAPID key pair once and keeps it in its configuration:
// the public key (an uncompressed P-256 point, base64url) goes to browsers
// as the applicationServerKey, the private key stays on the server.
func ExampleGenerateVAPIDKeys() {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		panic(err)
	}
	pub, _ := base64.RawURLEncoding.DecodeString(public)
	priv, _ := base64.RawURLEncoding.DecodeString(private)
	fmt.Println(len(pub), pub[0] == 4, len(priv))
	// The token of each push goes to the endpoint's push service:
	fmt.Println(webpush.Origin("https://updates.push.services.mozilla.com/wpush/v2/gAAAA"))
	// Output:
	// 65 true 32
	// https://updates.push.services.mozilla.com
}
