package vonage_test

import (
	"testing"

	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

// The signatures of Vonage's client libraries' tests (parameters a=1, b=2,
// timestamp=1461605396, secret "secret"; the Python SDK's vectors for each
// method): the handler's Signature and the local Vonage's Sign both give
// them.
func TestSignatureMatchesVonagesLibraries(t *testing.T) {
	params := map[string]string{"a": "1", "b": "2", "timestamp": "1461605396"}
	for method, want := range map[vonage.SignatureMethod]string{
		vonage.MD5Hash:    "6af838ef94998832dbfc29020b564830",
		vonage.MD5HMAC:    "c15c21ced558c93a226c305f58f902f2",
		vonage.SHA1HMAC:   "3e19a4e6880fdc2c1426bfd0587c98b9532f0210",
		vonage.SHA256HMAC: "a321e824b9b816be7c3f28859a31749a098713d39f613c80d455bbaffae1cd24",
		vonage.SHA512HMAC: "812a18f76680fa0fe1b8bd9ee1625466ceb1bd96242e4d050d2cfd9a7b40166c63ed26ec9702168781b6edcf1633db8ff95af9341701004eec3fcf9550572ee8",
	} {
		if !vonage.SignatureValid(method, "secret", params, want) {
			t.Errorf("%s: Signature = %s, want %s", method, vonage.Signature(method, "secret", params), want)
		}
		if got := vonagetest.Sign(string(method), "secret", params); !vonage.SignatureValid(method, "secret", params, got) {
			t.Errorf("%s: vonagetest.Sign = %s, want %s", method, got, want)
		}
	}
	withSig := map[string]string{"a": "1", "b": "2", "timestamp": "1461605396", "sig": "ignored"}
	if !vonage.SignatureValid(vonage.MD5Hash, "secret", withSig, "6af838ef94998832dbfc29020b564830") {
		t.Error("the sig parameter was signed")
	}
	// '&' and '=' in a value are signed as '_'.
	if a, b := vonage.Signature(vonage.MD5Hash, "s", map[string]string{"x": "1&2=3"}), vonage.Signature(vonage.MD5Hash, "s", map[string]string{"x": "1_2_3"}); a != b {
		t.Errorf("'&' and '=' not signed as '_': %s != %s", a, b)
	}
	if vonage.SignatureValid(vonage.MD5Hash, "another", params, "6af838ef94998832dbfc29020b564830") {
		t.Error("another secret's signature accepted")
	}
}
