// Package sms texts activity events to people's phones: an Inbox that
// reads each recipient's phone numbers in the event's tenant (package
// inbox/device, kind device.Phone), words a short message through the
// locale catalogs and sends it through a Provider. Package
// inbox/sms/twilio is the provider for Twilio's Messages API (and the
// handler of its signed delivery reports), package inbox/sms/vonage the
// one for Vonage's SMS API (and its signed delivery receipts); another
// service fits behind the same interface (Name and Send).
//
//	p, err := twilio.New(twilio.Config{AccountSID: "AC0123456789abcdef0123456789abcdef", AuthToken: token, From: "+14155550100"})
//	in, err := sms.NewInbox(sms.Config{Provider: p, Catalog: cat, Defaults: defaults,
//		Accepts: func(domain, action string) bool { return action == "assigned" }, // texts cost money
//		Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]sms.Recipient, error) {
//			return []sms.Recipient{{ID: ev.SubjectID, Locale: "de"}}, nil
//		}})
//	// a person's number: device.Register(ctx, db, device.Address{Recipient: "7", Kind: device.Phone, Address: "+1 415 555 0100"})
//	// give in to the worker (inbox.Config.Inboxes, or tidings.Config.Inboxes)
//
// # Who is told
//
// Config.Recipients names the people; the inbox drops the actor,
// duplicates and whoever muted the event on Channel ("sms"), as email
// does (inbox.Defaults.Wanted). With Config.Batching each person's
// delivery choice on the channel is honoured: immediate, batched on a
// schedule (one message per window, listing its events), or off. A
// number on the suppression list (channel "sms": its owner texted STOP)
// is not sent to, whoever registered it. Two people sharing a number get
// one message. An event nobody is told of is suppressed.
//
// # Messages
//
// One event is its "<domain>.<action>.title" in the recipient's language
// and, with Config.URL, the event's page; a batch is "digest.subject" and
// the events' "<domain>.<action>.line", joined by "; ". A message is cut
// to Config.MaxRunes (160, one GSM segment, by default) with "...".
//
// # Failures
//
// Each number gets an event at most once per accepted send (a ledger row
// per event, recipient and number). A number the provider says cannot
// receive (Twilio 21211 invalid, 21614 not a mobile; Vonage 6, 33) is
// removed (device.Gone) so no later event tries it; one whose owner
// texted STOP (Twilio 21610, Vonage 7 barred) is also put on the
// suppression list, so registering it again does not text it until
// inbox.Unsuppress (after the owner texts START).
// A 429 waits the provider's Retry-After (and so do later sends in this
// process); refused credentials are a misconfiguration (a dead letter
// saying why); 5xx and no answer are inbox.Unreachable of the inbox's
// Sink, so the worker's breaker holds the deliveries through an outage
// and each is sent once when the provider answers again. Delivery
// reports that come later (Twilio's status callback, Vonage's delivery
// receipts) remove a number that proved dead: see twilio.StatusHandler
// and vonage.StatusHandler.
//
// # Providers
//
// A provider over HTTP posts with PostForm (form-encoded, the answer read
// and closed, no answer ErrUnavailable) and classes a non-2xx answer
// with HTTPRefusal (429 ErrRateLimited with its Retry-After, 401/403
// ErrUnauthorized, 5xx/408 ErrUnavailable, else ErrRejected), then by
// its own codes; twilio and vonage do. CheckHTTP checks the settings
// such a provider's config has (StatusCallback, BaseURL, HTTPClient), and
// CallbackURL names a message's tenant in its delivery-report URL
// (TenantParam).
//
// The recipients, preferences, delivery choices, ledger, pruning,
// breaker and rate-limit waits are package inbox/address's, which every
// address channel shares; this package gives its Sender.
package sms
