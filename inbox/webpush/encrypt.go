package webpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// RecordSize is the record size of every message (RFC 8188 rs): one
// record holds the whole payload.
const RecordSize = 4096

// headerSize is the aes128gcm header: salt (16), rs (4), idlen (1) and
// the sender's public key (65).
const headerSize = 16 + 4 + 1 + 65

// MaxPayload is the longest plaintext a message carries: push services
// accept 4,096 bytes of body, less the header, the record's delimiter
// and the AES-GCM tag.
const MaxPayload = RecordSize - headerSize - 1 - 16

// ErrTooLarge is returned by Encrypt for a plaintext over MaxPayload.
var ErrTooLarge = errors.New("webpush: payload over 3,993 bytes")

// Encrypt encrypts plaintext for a subscription (RFC 8291, aes128gcm of
// RFC 8188): a fresh ECDH key pair and salt per message, the
// subscription's p256dh key and auth secret, one record. The result is
// the body of the push; send it with Content-Encoding: aes128gcm.
func Encrypt(plaintext []byte, p256dh *ecdh.PublicKey, auth []byte) ([]byte, error) {
	if len(plaintext) > MaxPayload {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(plaintext))
	}
	if p256dh == nil || p256dh.Curve() != ecdh.P256() {
		return nil, errors.New("webpush: the subscription's key is not a P-256 key")
	}
	if len(auth) != 16 {
		return nil, errors.New("webpush: the subscription's auth secret is not 16 bytes")
	}
	as, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	shared, err := as.ECDH(p256dh)
	if err != nil {
		return nil, fmt.Errorf("webpush: ECDH with the subscription's key: %w", err)
	}
	asPub, uaPub := as.PublicKey().Bytes(), p256dh.Bytes()
	// IKM = HKDF(salt: auth secret, IKM: ECDH secret, info: "WebPush: info" 0x00 ua_public as_public)
	info := make([]byte, 0, 14+65+65)
	info = append(append(append(info, "WebPush: info\x00"...), uaPub...), asPub...)
	ikm, err := hkdf.Key(sha256.New, shared, auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	out := make([]byte, headerSize, headerSize+len(plaintext)+1+16)
	salt := out[:16]
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out[16:20], RecordSize)
	out[20] = byte(len(asPub))
	copy(out[21:], asPub)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	record := make([]byte, 0, len(plaintext)+1)
	record = append(append(record, plaintext...), 0x02) // the last record's delimiter, no padding
	return gcm.Seal(out, nonce, record, nil), nil
}
