package device_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/device"
)

// subscription returns a browser's push subscription keys: a fresh P-256
// public key and auth secret, base64url as PushSubscription.toJSON gives
// them.
func subscription(t *testing.T) (p256dh, auth string) {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 16)
	rand.Read(secret)
	return base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), base64.RawURLEncoding.EncodeToString(secret)
}

func push(t *testing.T, recipient, endpoint string) device.Address {
	p, a := subscription(t)
	return device.Address{Recipient: recipient, Kind: device.WebPush, Address: endpoint, P256dh: p, Auth: a}
}

func count(t *testing.T) int64 {
	t.Helper()
	var n int64
	if err := testDB.Raw(`SELECT count(*) FROM device_addresses`).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func clean(t *testing.T) {
	t.Helper()
	if err := testDB.Exec(`DELETE FROM device_addresses`).Error; err != nil {
		t.Fatal(err)
	}
}

func TestRegisterRefusesBadAddressesBeforeAnyWrite(t *testing.T) {
	clean(t)
	ctx := context.Background()
	good := push(t, "7", "https://push.example/e/1")
	for name, a := range map[string]device.Address{
		"no recipient":      {Kind: device.Phone, Address: "+14155550100"},
		"unknown kind":      {Recipient: "7", Kind: "pager", Address: "123"},
		"http endpoint":     {Recipient: "7", Kind: device.WebPush, Address: "http://push.example/e/1", P256dh: good.P256dh, Auth: good.Auth},
		"no keys":           {Recipient: "7", Kind: device.WebPush, Address: "https://push.example/e/1"},
		"short auth":        {Recipient: "7", Kind: device.WebPush, Address: good.Address, P256dh: good.P256dh, Auth: "AAAA"},
		"key off the curve": {Recipient: "7", Kind: device.WebPush, Address: good.Address, P256dh: base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...)), Auth: good.Auth},
		"phone not E.164":   {Recipient: "7", Kind: device.Phone, Address: "0415 555 0100"},
		"apns not hex":      {Recipient: "7", Kind: device.APNs, Address: strings.Repeat("z", 64)},
		"fcm with spaces":   {Recipient: "7", Kind: device.FCM, Address: "a b"},
		"keys on a phone":   {Recipient: "7", Kind: device.Phone, Address: "+14155550100", Auth: good.Auth},
		"NUL in recipient":  {Recipient: "7\x00", Kind: device.Phone, Address: "+14155550100"},
		"huge address":      {Recipient: "7", Kind: device.FCM, Address: strings.Repeat("a", device.MaxAddress+1)},
	} {
		_, err := device.Register(ctx, testDB, a)
		var inv *device.InvalidError
		if !errors.As(err, &inv) || !errors.Is(err, device.ErrInvalid) {
			t.Errorf("%s: err = %v, want an *InvalidError", name, err)
		}
	}
	if n := count(t); n != 0 {
		t.Fatalf("%d rows written by refused registrations", n)
	}
}

func TestRegisterListRemove(t *testing.T) {
	clean(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	a := push(t, "7", "https://push.example/e/1")
	a.Label = "Firefox"
	got, err := device.Register(ctx, testDB, a)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID == 0 || got.Tenant != "acme" || got.Recipient != "7" || got.Kind != device.WebPush || got.P256dh != a.P256dh || got.Label != "Firefox" {
		t.Fatalf("Register = %+v", got)
	}
	// The browser renews its keys on the same endpoint: one row, new keys,
	// the label kept.
	renewed := push(t, "7", a.Address)
	again, err := device.Register(ctx, testDB, renewed)
	if err != nil || again.ID != got.ID || again.P256dh != renewed.P256dh || again.Label != "Firefox" {
		t.Fatalf("Register again = %+v, %v; want row %d with the new keys and the label kept", again, err, got.ID)
	}
	phone, err := device.Register(ctx, testDB, device.Address{Recipient: "7", Kind: device.Phone, Address: "+1 (415) 555-0100"})
	if err != nil || phone.Address != "+14155550100" {
		t.Fatalf("Register(phone) = %+v, %v; want the number normalized", phone, err)
	}
	tok := strings.Repeat("AB", 32)
	if apns, err := device.Register(ctx, testDB, device.Address{Recipient: "8", Kind: device.APNs, Address: tok}); err != nil || apns.Address != strings.ToLower(tok) {
		t.Fatalf("Register(apns) = %+v, %v", apns, err)
	}
	all, err := device.List(ctx, testDB, "7")
	if err != nil || len(all) != 2 || all[0].Kind != device.Phone {
		t.Fatalf("List(7) = %+v, %v; want the phone (newest) then the browser", all, err)
	}
	only, err := device.List(ctx, testDB, "7", device.WebPush)
	if err != nil || len(only) != 1 || only[0].ID != got.ID {
		t.Fatalf("List(7, webpush) = %+v, %v", only, err)
	}
	m, err := device.ListFor(ctx, testDB, []string{"7", "8", "9"}, device.WebPush, device.APNs)
	if err != nil || len(m["7"]) != 1 || len(m["8"]) != 1 || len(m["9"]) != 0 {
		t.Fatalf("ListFor = %+v, %v", m, err)
	}
	// Another tenant, and the untenanted rows, are other people.
	for _, other := range []context.Context{activity.WithTenant(context.Background(), "globex"), context.Background()} {
		if l, err := device.List(other, testDB, "7"); err != nil || len(l) != 0 {
			t.Fatalf("List(7) in another tenant = %+v, %v", l, err)
		}
		if ok, err := device.Remove(other, testDB, "7", device.Phone, "+14155550100"); err != nil || ok {
			t.Fatalf("Remove in another tenant = %v, %v", ok, err)
		}
		if n, err := device.Gone(other, testDB, device.WebPush, a.Address); err != nil || n != 0 {
			t.Fatalf("Gone in another tenant = %d, %v", n, err)
		}
	}
	if ok, err := device.Remove(ctx, testDB, "7", device.Phone, "+1 415 555 0100"); err != nil || !ok {
		t.Fatalf("Remove(phone as typed) = %v, %v", ok, err)
	}
	if ok, err := device.Remove(ctx, testDB, "7", device.Phone, "+14155550100"); err != nil || ok {
		t.Fatalf("Remove twice = %v, %v", ok, err)
	}
	if n, err := device.Gone(ctx, testDB, device.WebPush, a.Address); err != nil || n != 1 {
		t.Fatalf("Gone = %d, %v", n, err)
	}
	if l, err := device.List(ctx, testDB, "7"); err != nil || len(l) != 0 {
		t.Fatalf("List after Remove and Gone = %+v, %v", l, err)
	}
}

// A push address follows whoever registered it last in the tenant; a
// phone number may be shared.
func TestPushAddressesAreExclusivePhonesShared(t *testing.T) {
	clean(t)
	ctx := activity.WithTenant(context.Background(), "acme")
	if _, err := device.Register(ctx, testDB, push(t, "7", "https://push.example/shared")); err != nil {
		t.Fatal(err)
	}
	// The same endpoint in another tenant is that tenant's own.
	if _, err := device.Register(activity.WithTenant(context.Background(), "globex"), testDB, push(t, "7", "https://push.example/shared")); err != nil {
		t.Fatal(err)
	}
	if _, err := device.Register(ctx, testDB, push(t, "8", "https://push.example/shared")); err != nil {
		t.Fatal(err)
	}
	m, err := device.ListFor(ctx, testDB, []string{"7", "8"}, device.WebPush)
	if err != nil || len(m["7"]) != 0 || len(m["8"]) != 1 {
		t.Fatalf("after 8 registered 7's browser: %+v, %v; want it 8's only", m, err)
	}
	if l, err := device.List(activity.WithTenant(context.Background(), "globex"), testDB, "7"); err != nil || len(l) != 1 {
		t.Fatalf("globex's 7 lost its browser: %+v, %v", l, err)
	}
	for _, who := range []string{"7", "8"} {
		if _, err := device.Register(ctx, testDB, device.Address{Recipient: who, Kind: device.Phone, Address: "+4930123456"}); err != nil {
			t.Fatal(err)
		}
	}
	m, err = device.ListFor(ctx, testDB, []string{"7", "8"}, device.Phone)
	if err != nil || len(m["7"]) != 1 || len(m["8"]) != 1 {
		t.Fatalf("a shared phone: %+v, %v; want it on both", m, err)
	}
	// Gone reaches every holder of the number.
	if n, err := device.Gone(ctx, testDB, device.Phone, "+4930123456"); err != nil || n != 2 {
		t.Fatalf("Gone(shared phone) = %d, %v", n, err)
	}
}

func TestAtMostMaxPerKind(t *testing.T) {
	clean(t)
	ctx := context.Background()
	var first int64
	for i := range device.MaxPerKind + 3 {
		a, err := device.Register(ctx, testDB, push(t, "7", fmt.Sprintf("https://push.example/e/%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = a.ID
		}
	}
	l, err := device.List(ctx, testDB, "7", device.WebPush)
	if err != nil || len(l) != device.MaxPerKind {
		t.Fatalf("List = %d addresses, %v; want %d", len(l), err, device.MaxPerKind)
	}
	if l[0].Address != fmt.Sprintf("https://push.example/e/%d", device.MaxPerKind+2) || l[len(l)-1].ID == first {
		t.Fatalf("kept %s .. %d; want the newest, without the first", l[0].Address, l[len(l)-1].ID)
	}
	// Other kinds have their own count.
	if _, err := device.Register(ctx, testDB, device.Address{Recipient: "7", Kind: device.Phone, Address: "+4930123456"}); err != nil {
		t.Fatal(err)
	}
	if l, _ := device.List(ctx, testDB, "7"); len(l) != device.MaxPerKind+1 {
		t.Fatalf("List = %d, want %d", len(l), device.MaxPerKind+1)
	}
}

func TestErasePersonAndExport(t *testing.T) {
	clean(t)
	acme := activity.WithTenant(context.Background(), "acme")
	globex := activity.WithTenant(context.Background(), "globex")
	for _, ctx := range []context.Context{acme, globex} {
		for _, a := range []device.Address{
			push(t, "7", "https://push.example/7"),
			{Recipient: "7", Kind: device.Phone, Address: "+4930111111", Label: "Ana's phone"},
			{Recipient: "8", Kind: device.Phone, Address: "+4930111111"}, // 8 shares Ana's number
			{Recipient: "8", Kind: device.FCM, Address: "tok8", Label: "Ana's old tablet"},
		} {
			if _, err := device.Register(ctx, testDB, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := activity.Person{Type: "users", ID: "7"}.WithValues("Ana", "+4930111111")
	got, err := device.PersonAddresses(acme, testDB, "7")
	if err != nil || len(got) != 2 || got[0].Tenant != "acme" || got[1].Tenant != "acme" {
		t.Fatalf("PersonAddresses(7) in acme = %+v, %v", got, err)
	}
	across, err := device.PersonAddresses(activity.AcrossTenants(context.Background()), testDB, "7")
	if err != nil || len(across) != 4 {
		t.Fatalf("PersonAddresses(7) across tenants = %d, %v; want 4", len(across), err)
	}
	erased, err := device.ErasePerson(acme, testDB, p)
	if err != nil {
		t.Fatal(err)
	}
	if erased["device_addresses"] != 4 { // 7's two, 8's copy of the number, the label of 8's tablet
		t.Errorf("erased = %v, want 4 rows", erased)
	}
	var left []string
	if err := testDB.Raw(`SELECT tenant_id || ' ' || recipient || ' ' || kind || ' ' || address || ' ' || label FROM device_addresses ORDER BY 1`).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	want := []string{
		"acme 8 fcm tok8 [erased]'s old tablet",
		"globex 7 phone +4930111111 Ana's phone",
		"globex 7 webpush https://push.example/7 ",
		"globex 8 fcm tok8 Ana's old tablet",
		"globex 8 phone +4930111111 ",
	}
	if strings.Join(left, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after erasing 7 in acme:\n%s\nwant\n%s", strings.Join(left, "\n"), strings.Join(want, "\n"))
	}
	if _, err := device.ErasePerson(acme, testDB, activity.Person{}); err == nil {
		t.Fatal("ErasePerson of an empty person: no error")
	}
}
