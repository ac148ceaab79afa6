package vonage

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"slices"
	"strings"
)

// SignatureMethod is the algorithm of the account's signature secret, as
// chosen in Vonage's dashboard.
type SignatureMethod string

// The signature methods of the SMS API.
const (
	// MD5Hash is Vonage's default (and legacy) method: the lowercase hex
	// MD5 of the parameter string followed by the secret.
	MD5Hash SignatureMethod = "md5hash"
	// MD5HMAC, SHA1HMAC, SHA256HMAC and SHA512HMAC are the uppercase hex
	// HMAC of the parameter string, keyed with the secret.
	MD5HMAC    SignatureMethod = "md5"
	SHA1HMAC   SignatureMethod = "sha1"
	SHA256HMAC SignatureMethod = "sha256"
	SHA512HMAC SignatureMethod = "sha512"
)

// SignatureParam is the parameter that carries a request's signature.
const SignatureParam = "sig"

// valid reports whether m is one of the methods.
func (m SignatureMethod) valid() bool {
	switch m {
	case MD5Hash, MD5HMAC, SHA1HMAC, SHA256HMAC, SHA512HMAC:
		return true
	}
	return false
}

func (m SignatureMethod) hash() func() hash.Hash {
	switch m {
	case SHA1HMAC:
		return sha1.New
	case SHA256HMAC:
		return sha256.New
	case SHA512HMAC:
		return sha512.New
	}
	return md5.New
}

// Signature is Vonage's signature of the SMS API's parameters params
// (every one but sig; one value each) with secret: the parameters sorted
// by name, each written "&name=value" with any '&' or '=' in the value
// replaced by '_'; then, for MD5Hash, the lowercase hex MD5 of that
// string followed by the secret, else the uppercase hex HMAC of it keyed
// with the secret. (Vonage's signing guide and its client libraries.)
func Signature(method SignatureMethod, secret string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != SignatureParam {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString("&" + k + "=" + strings.NewReplacer("&", "_", "=", "_").Replace(params[k]))
	}
	if method == MD5Hash {
		sum := md5.Sum([]byte(b.String() + secret))
		return hex.EncodeToString(sum[:])
	}
	mac := hmac.New(method.hash(), []byte(secret))
	mac.Write([]byte(b.String()))
	return strings.ToUpper(hex.EncodeToString(mac.Sum(nil)))
}

// SignatureValid reports whether sig is params' signature with secret
// (hex compared without regard to case, in constant time).
func SignatureValid(method SignatureMethod, secret string, params map[string]string, sig string) bool {
	want := Signature(method, secret, params)
	return hmac.Equal([]byte(strings.ToLower(want)), []byte(strings.ToLower(sig)))
}
