// Package webpush pushes activity events to people's browsers (the Push
// API): an Inbox that reads each recipient's web push subscriptions in the
// event's tenant (package inbox/device), words the notification through
// the locale catalogs, encrypts it for each subscription (RFC 8291,
// aes128gcm) and posts it to the subscription's push service with a VAPID
// token (RFC 8292, ES256).
//
//	pub, priv, err := webpush.GenerateVAPIDKeys() // once; keep both in the app's secrets
//	v, err := webpush.NewVAPID(webpush.VAPIDConfig{PublicKey: pub, PrivateKey: priv, Subject: "mailto:ops@example.com"})
//	in, err := webpush.NewInbox(webpush.Config{VAPID: v, Catalog: cat, Defaults: defaults,
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]webpush.Recipient, error) {
//			return []webpush.Recipient{{ID: ev.SubjectID, Locale: "de"}}, nil // the subject's watchers
//		}})
//	// give in to the worker (inbox.Config.Inboxes, or tidings.Config.Inboxes)
//
// Browsers subscribe with the public key as applicationServerKey, and
// the app stores each subscription with device.Register (the
// notification center's "notify me on this browser" does it).
//
// # Who is told
//
// Config.Recipients names the people; the inbox drops the actor,
// duplicates and whoever muted the event on Channel ("webpush"), as email
// does (inbox.Defaults.Wanted). With Config.Batching each person's
// delivery choice on the channel is honoured: immediate, batched on a
// schedule (one notification per window, listing its events, package
// inbox/batch), or off. A person with no subscription in the event's
// tenant is not told; an event nobody is told of is suppressed.
//
// # Messages
//
// A push carries a Message as JSON: a title ("<domain>.<action>.title" in
// the recipient's language), a tag per subject (the browser keeps one
// notification per subject), the page to open (Config.URL) and the
// events' references; a batch has "digest.subject" as its title and a
// "<domain>.<action>.line" per event as its body. A message is cut to
// MaxPayload (3,993 bytes), what one record of a 4 KiB push body holds.
//
// # Failures
//
// Pushes go through an inbox/webhook Client: https to public addresses
// only (an endpoint comes from a browser, so it must not reach the app's
// network). Each subscription gets an event at most once per successful
// delivery (a ledger row per event and subscription). A subscription the
// push service says is gone (404, 410) is removed (device.Gone) so no
// later event tries it; a 429 waits its Retry-After (and so do later
// pushes to that push service in this process); a refused VAPID token
// (401, 403) is a misconfiguration (a dead letter saying why); 5xx and
// no answer are inbox.Unreachable of the push service's origin. Each
// origin has a circuit breaker of its own in the inbox (Config.Breakers,
// Inbox.Breakers): while fcm.googleapis.com is down its pushes are held,
// without a request, while Mozilla's autopush's go on; each held push
// goes once when its push service answers a probe again.
//
// The recipients, preferences, delivery choices, ledger, pruning,
// breakers and rate-limit waits are package inbox/address's, which every
// address channel shares; this package gives its web push Sender.
//
// # Why no library
//
// The crypto is the standard library's (crypto/ecdh, crypto/hkdf,
// crypto/ecdsa, AES-GCM), about 150 lines checked against npm's http_ece
// (package webpushtest runs it as a push service): the Go web push
// libraries sign a new JWT for every message and pad every message to 4
// KiB, where this package signs one token per push service origin for
// hours and sends the bytes a message needs.
package webpush
