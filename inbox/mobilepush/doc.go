// Package mobilepush pushes activity events to people's phones through
// Firebase Cloud Messaging (Android, and iOS through Firebase) and
// Apple's Push Notification service: an Inbox per push service that reads
// each recipient's device tokens of that service in the event's tenant
// (package inbox/device: device.FCM, device.APNs), words the notification
// through the locale catalogs and pushes it through a Provider. Package
// inbox/mobilepush/fcm speaks FCM's HTTP v1 API (OAuth 2.0 from a service
// account's key), package inbox/mobilepush/apns APNs's HTTP/2 provider
// API (an ES256 provider token); both with the standard library only.
//
//	android, err := fcm.New(fcm.Config{ServiceAccount: []byte(secret)})
//	ios, err := apns.New(apns.Config{TeamID: "ABCDE12345", KeyID: "KEY1234567", PrivateKey: []byte(secret), Topic: "com.example.app"})
//	recipients := func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]mobilepush.Recipient, error) {
//		return []mobilepush.Recipient{{ID: ev.SubjectID, Locale: "de"}}, nil
//	}
//	fcmInbox, err := mobilepush.NewInbox(mobilepush.Config{Provider: android, Recipients: recipients, Catalog: cat})
//	apnsInbox, err := mobilepush.NewInbox(mobilepush.Config{Provider: ios, Recipients: recipients, Catalog: cat})
//	// give both to the worker (inbox.Config.Inboxes): each has its own breaker
//	// the app registers a phone's token: device.Register(ctx, db, device.Address{Recipient: "7", Kind: device.FCM, Address: tok})
//
// # Who is told
//
// Config.Recipients names the people; the inbox drops the actor,
// duplicates and whoever muted the event on Channel ("mobilepush", one
// channel for both services: a person chooses "my phone", not a vendor).
// With Config.Batching each person's delivery choice is honoured:
// immediate, batched on a schedule (one notification per window, listing
// its events, package inbox/batch), or off. A person without a device of
// the provider's kind in the event's tenant is not told; an event nobody
// is told of is suppressed.
//
// # Messages
//
// A notification's title is "<domain>.<action>.title" in the recipient's
// language; a batch's is "digest.subject" with a "<domain>.<action>.line"
// per event as its body. Its tag (one per subject: FCM's collapse key,
// APNs's thread and collapse ID) keeps one notification per subject on
// the device; its data carry the page to open (Config.URL) and the
// events' references.
//
// # Failures
//
// Each device gets an event at most once per accepted push (a ledger row
// per event, recipient and token). A token the service says is gone (FCM
// UNREGISTERED, APNs 410 Unregistered or 400 BadDeviceToken) is removed
// (device.Gone) so no later event tries it; a 429 waits the service's
// Retry-After (a minute when it gives none, as APNs does) and so do later
// pushes in this process; refused credentials are a misconfiguration (a
// dead letter saying why); 5xx and no answer are inbox.Unreachable of the
// inbox's Sink, so the worker's breaker holds the deliveries through an
// outage and each is pushed once when the service answers again (after
// its Retry-After when it sent one).
//
// The recipients, preferences, delivery choices, ledger, pruning,
// breaker and rate-limit waits are package inbox/address's, which every
// address channel shares; this package gives its Sender.
package mobilepush
