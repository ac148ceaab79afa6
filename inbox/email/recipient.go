package email

import (
	"fmt"
	"net/mail"
	"time"
)

// Recipient is one person a mail goes to.
type Recipient struct {
	ID    string // the app's key for the person (for preferences and the ledger)
	Name  string // display name; may be empty
	Email string // a bare address, "ana@example.com"

	// Location is the person's time zone: digest periods (hourly, daily)
	// start on its hours and midnights. nil means the digest's default
	// (DigestConfig.Location, UTC unless set).
	Location *time.Location
	// Locale is the language the person reads (BCP 47, "de"): digests
	// with a BuilderConfig.Catalog are worded in it. "" reads the
	// catalog's fallback.
	Locale string
}

// validate checks that Email is one bare address and nothing else, so it
// cannot smuggle a second recipient or a header into the message.
func (r Recipient) validate() error {
	if r.Email == "" {
		return fmt.Errorf("%w: recipient %q has no email address", ErrInvalidRecipient, r.ID)
	}
	a, err := mail.ParseAddress(r.Email)
	if err != nil || a.Address != r.Email {
		return fmt.Errorf("%w: %q is not a bare address like ana@example.com", ErrInvalidRecipient, r.Email)
	}
	return nil
}

func (r Recipient) address() *mail.Address {
	return &mail.Address{Name: oneLine(r.Name), Address: r.Email}
}
