// Package device stores the addresses a person is reached at outside the
// app, per tenant: browsers' web push subscriptions (endpoint and keys),
// mobile push tokens (FCM, APNs) and phone numbers (SMS). The channel
// inboxes (inbox/webpush, and the mobile and SMS inboxes) read them for an
// event's recipients, and remove an address when its provider says it is
// gone, so the next event does not try it.
//
// Every call takes ctx first, then the *gorm.DB (a transaction is joined,
// never begun), and works in the context's tenant (activity.WithTenant;
// none: untenanted rows), as preferences do (inbox.TenantKeyCondition).
// The table is device_addresses (migration 00024), one of
// migrations.TenantTables, under the row-level security policies of
// migrations.RowLevelSecuritySQL.
//
//	// a browser subscribed (web/devices does this from a POSTed PushSubscription)
//	a, err := device.Register(ctx, db, device.Address{Recipient: "7", Kind: device.WebPush,
//		Address: sub.Endpoint, P256dh: sub.Keys.P256dh, Auth: sub.Keys.Auth, Label: "Firefox"})
//	// a person's phone number, for SMS
//	_, err = device.Register(ctx, db, device.Address{Recipient: "7", Kind: device.Phone, Address: "+1 415 555 0100"})
//	// an inbox, for an event's recipients: one query
//	byPerson, err := device.ListFor(ctx, db, []string{"7", "8"}, device.WebPush)
//	// the push service answered 410 Gone for an endpoint
//	n, err := device.Gone(ctx, db, device.WebPush, endpoint)
//	// the browser unsubscribed
//	ok, err := device.Remove(ctx, db, "7", device.WebPush, endpoint)
//
// An address that cannot be stored (a web push endpoint that is not
// https, keys that are not a P-256 point and a 16-byte secret, a token of
// the wrong alphabet, a phone number not in E.164 form) is an
// *InvalidError (errors.Is ErrInvalid), returned before any write: its
// Reason is English, its Code names the rule for a page to say it in the
// reader's words (web/notifycenter does). A push address (web push, FCM,
// APNs) reaches one person at a time: registering it for a person takes
// it from anyone else of the tenant (whoever signed in on that device last
// gets its notifications). A phone number may be shared. A person keeps at
// most MaxPerKind addresses of a kind; the least recently registered go
// first.
//
// # Privacy
//
// ErasePerson deletes a person's addresses (and anyone's address that is
// one of the person's values, such as their phone number), and
// PersonAddresses lists them for the person's export: package privacy
// calls both (its export's "device" lines).
package device
