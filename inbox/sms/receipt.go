package sms

import (
	"context"
	"errors"
	"net/http"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
)

// Refusal is what a provider's delivery receipt says of a number that did
// not receive a message, for NumberRefused.
type Refusal int

// The refusals a receipt may report.
const (
	// Kept: the number stays (a temporary failure, an unknown code).
	Kept Refusal = iota
	// OptedOut: the person texted STOP. The number is suppressed on
	// Channel and removed.
	OptedOut
	// Gone: the number cannot receive (invalid, de-activated). It is
	// removed.
	Gone
)

// NumberRefused applies a delivery receipt's refusal of number in the
// context's tenant: an opted-out number is put on the suppression list
// (source and detail say which provider and receipt) and removed from
// every person's phones, a gone one removed. It returns how many stored
// numbers it removed. The providers' receipt handlers (twilio.StatusHandler,
// vonage.StatusHandler) call it; ReceiptError says how they answer its
// error.
func NumberRefused(ctx context.Context, db *gorm.DB, number string, r Refusal, source, detail string) (removed int64, err error) {
	switch r {
	case OptedOut:
		if err := inbox.Suppress(ctx, db, inbox.Suppression{Channel: Channel, Address: number, Reason: inbox.ReasonUnsubscribe,
			Source: source, Detail: detail}); err != nil {
			return 0, err
		}
		return device.Gone(ctx, db, device.Phone, number)
	case Gone:
		return device.Gone(ctx, db, device.Phone, number)
	}
	return 0, nil
}

// ReceiptError answers a receipt whose NumberRefused failed and reports
// whether it did (false for a nil err): a number the suppression list
// refuses is a 400 (the provider's retry would fail the same way), any
// other failure a 500 (the provider retries the receipt, and the removal
// is tried again).
func ReceiptError(w http.ResponseWriter, err error) bool {
	var bad *inbox.SuppressionError
	switch {
	case err == nil:
		return false
	case errors.As(err, &bad):
		http.Error(w, "bad number", http.StatusBadRequest)
	default:
		http.Error(w, "could not record the receipt", http.StatusInternalServerError)
	}
	return true
}
