package fcm_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"github.com/tidingsdev/tidings/inbox/mobilepush"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcm"
)

// The HTTP v1 message FCM receives for a device token: the notification,
// the subject as collapse key, the events in data for the app to open.
func ExampleProvider_Body() {
	p, err := fcm.New(fcm.Config{ServiceAccount: serviceAccount()})
	if err != nil {
		panic(err)
	}
	b, err := p.Body("device-token-1", mobilepush.Message{Title: "Ana commented on #7", Tag: "issue/7",
		Events: []mobilepush.Ref{{Domain: "issue", ID: 42}}})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: {"message":{"android":{"collapse_key":"issue/7","notification":{"tag":"issue/7"},"ttl":"86400s"},"data":{"events":"issue:42"},"notification":{"title":"Ana commented on #7"},"token":"device-token-1"}}
}

// serviceAccount is a key file as the Firebase console gives it (here
// with a key made on the spot).
func serviceAccount() []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "shop-app", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "tidings@shop-app.iam.gserviceaccount.com",
		"token_uri":    "https://oauth2.googleapis.com/token",
	})
	if err != nil {
		panic(err)
	}
	return b
}
