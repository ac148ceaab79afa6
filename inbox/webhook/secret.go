package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// SealedPrefix starts every secret sealed by a Keyring: secrets stored with
// it are encrypted at rest; a stored value without it is plain text (from a
// version that did not encrypt, until Rules.SealSecretsAllTenants rewrites it).
const SealedPrefix = "tidings-sealed:v1:"

// ErrSealed is returned (wrapped, saying why) when a sealed secret cannot
// be opened: an unknown key, a wrong purpose, or a corrupted value.
var ErrSealed = errors.New("webhook: cannot open a sealed secret")

// Keyring seals secrets (webhook signing keys, API tokens) for storage
// with AES-256-GCM, and opens them again. Each sealed value names the key
// that sealed it, so keys rotate: seal with the newest, keep the old ones
// to open what they sealed. It is safe for concurrent use.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// NewKeyring returns a keyring sealing with keys[current]. Keys are 32
// random bytes each (crypto/rand; store them like passwords, outside the
// database); IDs are 1-32 of A-Z a-z 0-9 _ -.
func NewKeyring(current string, keys map[string][]byte) (*Keyring, error) {
	k := &Keyring{current: current, aeads: map[string]cipher.AEAD{}}
	for id, key := range keys {
		if !keyIDRE.MatchString(id) {
			return nil, fmt.Errorf("webhook: keyring: key id %q: use 1-32 of A-Z a-z 0-9 _ -", id)
		}
		if len(key) != 32 {
			return nil, fmt.Errorf("webhook: keyring: key %s is %d bytes; AES-256 needs 32 random bytes", id, len(key))
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k.aeads[id] = aead
	}
	if k.aeads[current] == nil {
		return nil, fmt.Errorf("webhook: keyring: the current key %q is not among the keys", current)
	}
	return k, nil
}

// IsSealed reports whether a stored value is a sealed secret.
func IsSealed(s string) bool { return strings.HasPrefix(s, SealedPrefix) }

// Seal encrypts plain for purpose (a name binding the value to where it is
// stored, like "webhook_subscriptions.secret": a value moved elsewhere does
// not open) with the current key.
func (k *Keyring) Seal(plain []byte, purpose string) (string, error) {
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("webhook: seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, []byte(purpose))
	return SealedPrefix + k.current + ":" + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value Seal made for purpose.
func (k *Keyring) Open(sealed, purpose string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, SealedPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it does not start with %s", ErrSealed, SealedPrefix)
	}
	id, text, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("%w: it has no key id", ErrSealed)
	}
	aead := k.aeads[id]
	if aead == nil {
		return nil, fmt.Errorf("%w: it was sealed with key %q, which the keyring does not hold", ErrSealed, id)
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: it is corrupted", ErrSealed)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("%w: it was altered, or sealed for another purpose than %q", ErrSealed, purpose)
	}
	return plain, nil
}
