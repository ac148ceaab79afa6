package device_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/tidingsdev/tidings/inbox/device"
)

// FuzzRegister feeds Register what a browser's POST or an app's phone
// field could hold: it must refuse with an *InvalidError before any
// write, or store an address that List returns as Register did. Never raw
// SQLSTATE, never a panic.
func FuzzRegister(f *testing.F) {
	f.Add("7", "webpush", "https://push.example/e/1", "BDYvPKqWBUSceXbkOtThGc042xkFiedZEDbludiT8OORJNRjx2PliAljf6nWdqA3tUyycfUXsdpL1eJ3lA41Ch8", "Ef-NcZDa2prjUSvIb2nzzA", "Firefox")
	f.Add("7", "phone", "+1 (415) 555-0100", "", "", "mobile")
	f.Add("8", "apns", "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB", "", "", "")
	f.Add("8", "fcm", "token:with\x00nul", "", "", "")
	f.Add("7\x00", "phone", "+14155550100", "", "", "\xff\xfe")
	f.Add("", "pager", "123", "", "", "")
	f.Fuzz(func(t *testing.T, recipient, kind, address, p256dh, auth, label string) {
		ctx := context.Background()
		recipient = "fuzz-" + recipient // this fuzz's own rows only
		got, err := device.Register(ctx, testDB, device.Address{Recipient: recipient, Kind: device.Kind(kind),
			Address: address, P256dh: p256dh, Auth: auth, Label: label})
		if err != nil {
			var inv *device.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, device.ErrInvalid) {
				t.Fatalf("Register(%q, %q, %q) = %v; want an *InvalidError or a stored address", recipient, kind, address, err)
			}
			return
		}
		defer device.Remove(ctx, testDB, got.Recipient, got.Kind, got.Address)
		list, err := device.List(ctx, testDB, got.Recipient, got.Kind)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(list, func(a device.Address) bool {
			return a.ID == got.ID && a.Address == got.Address && a.Label == got.Label && a.Auth == got.Auth && a.P256dh == got.P256dh
		}) {
			t.Fatalf("Register returned %+v; List has %+v", got, list)
		}
	})
}
