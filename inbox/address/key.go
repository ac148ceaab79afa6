package address

import (
	"crypto/sha256"
	"encoding/hex"
)

// Key is the ledger recipient of a delivery to one address of a person:
// their ID, "/", and 16 hex digits of the SHA-256 of the address, which
// is not repeated (an endpoint's path identifies a browser, a number is
// a person's data, and the ledger outlives a person's erasure of it).
func Key(recipient, address string) string {
	sum := sha256.Sum256([]byte(address))
	return recipient + "/" + hex.EncodeToString(sum[:8])
}
