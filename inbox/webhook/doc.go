// Package webhook posts events to other systems over HTTP, safely: the
// transport shared by the workflow webhook action and by domain-wide
// webhook subscriptions, and the keyring that keeps their secrets sealed.
//
// # The client
//
// Client posts only to https URLs on public addresses. CheckURL runs when
// a URL is saved (a rule, a subscription): the scheme must be https, no
// credentials, and the host a public address or a name whose every
// address is public (PublicOnly: private, loopback, link-local where cloud
// metadata lives, unique-local, CGNAT, multicast and reserved ranges are
// refused). The dialer checks again the very address each connection
// reaches, so a DNS answer that changes after the check (rebinding) and
// redirects are refused too. Requests are signed when a secret is given:
// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the
// timestamp (TimestampHeader), a dot and the body; receivers in Go use
// VerifySignature.
//
// A failed Post is an *Error of one kind: no answer, 502, 503 or 504 is an
// outage of the URL's Sink (an inbox.UnreachableError inside, which the
// worker's breaker counts); 401, 403, 404, 410, an untrusted certificate, a
// refused TLS handshake, a port without TLS, a refused address or redirect
// refuse the setup (Error.Misconfigured says what to fix; Misconfigured
// makes it an inbox.MisconfiguredError: a dead letter at once, health down
// naming the sink until it answers again); another 5xx, 408 and 429 are
// retried (Retryable); another 4xx refuses the one request.
//
// # Subscriptions
//
// Subscriptions stores domain-wide subscriptions (webhook_subscriptions:
// a domain, optionally some actions, an https URL, a secret) and is the
// inbox that delivers to them: every event of a subscribed domain is posted
// as a CloudEvents 1.0 JSON document (activity.CloudEvent, Content-Type
// application/cloudevents+json), signed with the subscription's secret,
// with an Idempotency-Key stable across attempts. Deliveries go through
// the deliveries ledger (Delivery.Send, once per subscription), are
// retried with the inbox's policy, and end as dead letters like any inbox
// job; a receiver refusing the setup fails its delivery at once as an
// inbox.MisconfiguredError of the URL's Sink, and the receiver's next
// accepted delivery clears it (Delivery.Answered). Subscribe refuses URLs CheckURL refuses; secrets are stored sealed.
//
//	subs, err := webhook.NewSubscriptions(webhook.SubscriptionsConfig{
//		DB: db, Keyring: keys, Domains: []*activity.Domain{issues}, Source: "/tidings/tracker",
//	})
//	sub, err := subs.Subscribe(ctx, "users:3", webhook.SubscriptionSpec{
//		Domain: "issue", Actions: []string{"comment_added"},
//		URL: "https://hooks.example.com/tidings", Secret: secret,
//	})
//	// and give subs to the worker: inbox.Config{Inboxes: []inbox.Inbox{..., subs}}
//
// # Secrets at rest
//
// Keyring seals secrets with AES-256-GCM under a key ID, bound to a
// purpose, so keys rotate (seal with the newest, keep old ones to open) and
// a sealed value copied elsewhere does not open. Keep the keys outside the
// database (an environment variable, a secret manager).
package webhook
