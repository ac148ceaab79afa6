package crosstenant_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"testing"

	"github.com/tidingsdev/tidings/inbox/device"
)

// The addresses both tenants hold for the same people (device_addresses):
// the same browser signed in to both tenants' apps (one endpoint), and a
// household phone that users:8 and users:9 share.
const (
	sharedEndpoint = "https://push.example/e/shared"
	sharedPhone    = "+14155550108"
	token9         = "tok-9"
)

// bOnlyToken is an APNs token only B's users:7 has.
var bOnlyToken = fmt.Sprintf("%064x", 7)

// deviceWorld is what the tenants registered before A calls anything.
type deviceWorld struct {
	ids map[string][]int64 // tenant -> its address ids
}

// pushKeys returns a browser's push subscription keys: a fresh P-256
// public key and auth secret, base64url.
func pushKeys(t *testing.T) (p256dh, auth string) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	return base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(secret)
}

// buildDevices registers, in each tenant, users:8's browser (the shared
// endpoint, labelled with 8's name) and phone (the shared number), and
// users:9's FCM token and the same phone, labelled "user 8's phone"; B's
// users:7 also has an APNs token A's has not.
func buildDevices(t *testing.T, w *world) {
	t.Helper()
	dw := &deviceWorld{ids: map[string][]int64{}}
	for _, tn := range []string{tenantA, tenantB} {
		p256dh, auth := pushKeys(t)
		addrs := []device.Address{
			{Recipient: "8", Kind: device.WebPush, Address: sharedEndpoint, P256dh: p256dh, Auth: auth, Label: "user 8's laptop"},
			{Recipient: "8", Kind: device.Phone, Address: sharedPhone, Label: "user 8"},
			{Recipient: "9", Kind: device.FCM, Address: token9},
			{Recipient: "9", Kind: device.Phone, Address: sharedPhone, Label: "user 8's phone"},
		}
		if tn == tenantB {
			addrs = append(addrs, device.Address{Recipient: "7", Kind: device.APNs, Address: bOnlyToken})
		}
		for _, a := range addrs {
			got, err := device.Register(as(tn, a.Recipient), appDB, a)
			if err != nil {
				t.Fatal(err)
			}
			if got.Tenant != tn {
				t.Fatalf("registered in tenant %q, want %s", got.Tenant, tn)
			}
			dw.ids[tn] = append(dw.ids[tn], got.ID)
		}
	}
	w.devices = dw
}

// testDevices calls, as tenant A (ctx), every call of inbox/device but
// ErasePerson (the person case erases A's users:8) on the addresses both
// tenants hold for the same people, the same endpoint and the same phone:
// the reads return A's rows only, and the writes change A's only (the
// suite's snapshot of B after it). Register takes a push address from
// whoever else of A had it, never from B's person; its drop of the
// oldest beyond MaxPerKind drops A's, never B's older ones; Remove and
// Gone of an address B holds remove only A's.
func testDevices(t *testing.T, w *world, ctx context.Context) {
	bIDs := w.devices.ids[tenantB]
	onlyA := func(what string, list []device.Address) {
		t.Helper()
		for _, a := range list {
			if a.Tenant != tenantA || slices.Contains(bIDs, a.ID) {
				t.Errorf("%s as A returned address %d of tenant %q", what, a.ID, a.Tenant)
			}
		}
	}

	cover(device.List, device.ListFor, device.PersonAddresses)
	got, err := device.List(ctx, appDB, "8")
	if err != nil || len(got) != 2 {
		t.Errorf("List(8) as A = %d addresses, %v; want A's 2", len(got), err)
	}
	onlyA("List", got)
	byPerson, err := device.ListFor(ctx, appDB, []string{"8", "9", "7"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byPerson["8"]) != 2 || len(byPerson["9"]) != 2 || len(byPerson["7"]) != 0 {
		t.Errorf("ListFor(8, 9, 7) as A = %d, %d, %d addresses; want A's 2, 2, 0 (B's users:7 has one)", len(byPerson["8"]), len(byPerson["9"]), len(byPerson["7"]))
	}
	for _, list := range byPerson {
		onlyA("ListFor", list)
	}
	phones, err := device.ListFor(ctx, appDB, []string{"8", "9"}, device.Phone)
	if err != nil || len(phones["8"]) != 1 || len(phones["9"]) != 1 {
		t.Errorf("ListFor(8, 9; phone) as A = %v, %v; want A's one phone each", phones, err)
	}
	for _, list := range phones {
		onlyA("ListFor(phone)", list)
	}
	mine, err := device.PersonAddresses(ctx, appDB, "9")
	if err != nil || len(mine) != 2 {
		t.Errorf("PersonAddresses(9) as A = %d, %v; want A's 2", len(mine), err)
	}
	onlyA("PersonAddresses", mine)

	// Remove and Gone of the APNs token only B's users:7 has: nothing.
	cover(device.Remove, device.Gone)
	if ok, err := device.Remove(ctx, appDB, "7", device.APNs, bOnlyToken); err != nil || ok {
		t.Errorf("Remove(B's token of 7) as A = %v, %v; want false", ok, err)
	}
	if n, err := device.Gone(ctx, appDB, device.APNs, bOnlyToken); err != nil || n != 0 {
		t.Errorf("Gone(B's token) as A = %d, %v; want 0", n, err)
	}
	// Remove of users:9's phone, which both tenants have: A's only.
	if ok, err := device.Remove(ctx, appDB, "9", device.Phone, sharedPhone); err != nil || !ok {
		t.Errorf("Remove(9's phone) as A = %v, %v; want A's removed", ok, err)
	}

	// A's users:7 signs in on the shared browser: it is taken from A's
	// users:8, not from B's.
	cover(device.Register)
	p256dh, auth := pushKeys(t)
	moved, err := device.Register(ctx, appDB, device.Address{Recipient: "7", Kind: device.WebPush, Address: sharedEndpoint, P256dh: p256dh, Auth: auth})
	if err != nil || moved.Tenant != tenantA || slices.Contains(bIDs, moved.ID) {
		t.Errorf("Register(7, the shared endpoint) as A = %+v, %v; want A's new row", moved, err)
	}
	if got, err := device.List(ctx, appDB, "8", device.WebPush); err != nil || len(got) != 0 {
		t.Errorf("A's users:8 still has the endpoint A's users:7 took: %v, %v", got, err)
	}
	// The push service says the endpoint is gone, to A's inbox: A's row
	// goes (one: A's users:7's), B's stays.
	if n, err := device.Gone(ctx, appDB, device.WebPush, sharedEndpoint); err != nil || n != 1 {
		t.Errorf("Gone(the shared endpoint) as A = %d, %v; want A's 1", n, err)
	}
	// MaxPerKind new tokens for A's users:9: A's older token is dropped,
	// B's older one of the same person and kind is not A's to drop.
	for i := range device.MaxPerKind {
		if _, err := device.Register(ctx, appDB, device.Address{Recipient: "9", Kind: device.FCM, Address: fmt.Sprintf("tok-9-new-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	tokens, err := device.List(ctx, appDB, "9", device.FCM)
	if err != nil || len(tokens) != device.MaxPerKind || slices.ContainsFunc(tokens, func(a device.Address) bool { return a.Address == token9 }) {
		t.Errorf("A's users:9's tokens = %d, %v; want the %d new ones", len(tokens), err, device.MaxPerKind)
	}
	onlyA("List(9, fcm)", tokens)
}
