// Package chat posts activity events to chat channels through incoming
// webhooks: one Inbox for any provider, with the provider's API in a
// package of its own (inbox/chat/discord, inbox/chat/teams), each a
// Provider that turns a Message into a request and reads the reply.
//
//	router, err := chat.NewRouter(chat.RouterConfig{Rules: []chat.Rule{
//		{Tenant: "acme", URL: acmeDiscordURL},
//		{Tenant: "globex", URL: globexDiscordURL, Locale: "de"},
//	}})
//	in, err := chat.NewInbox(chat.Config{Provider: discord.Provider{}, Router: router, Catalog: cat})
//	// give in to the worker (inbox.Config.Inboxes, or tidings.Config.Inboxes)
//
// # Routing
//
// A Router maps each event to a webhook URL (and the channel's language)
// from configuration: rules per tenant, domain, action and subject, the
// most specific winning, and an optional Default. A rule naming a tenant
// sends that tenant's events to its own channel; an event no rule routes
// (and no Default) is skipped, its delivery suppressed. Webhook URLs are
// secrets: they appear in no error, log line or job; the suppression list
// and batch windows name a webhook by TargetKey (a hash of its URL).
//
// # Messages
//
// Messages are worded through a locale.Catalog in the target's language:
// "<domain>.<action>.title" for one event; "digest.subject" and a
// "<domain>.<action>.line" per event for a batch. Each provider escapes
// the text for its markup so a label cannot ping, link or format.
//
// # Failures
//
// Posts go through an inbox/webhook Client: https to public addresses
// only, so a tenant's webhook URL cannot reach the app's network. The
// replies, classed by the Provider into a *PostError, become what the
// worker acts on (see Inbox): a 429 waits the provider's Retry-After (and
// so do later posts to the same webhook in this process); a webhook gone
// (401, 404, 410) is suppressed and its deliveries fail as
// inbox.Misconfigured, without a request, until the route changes; a
// refused message is permanent; 5xx and no answer are
// inbox.Unreachable, so the worker's breaker for Inbox.Sink holds the
// deliveries through an outage and each is posted once when the provider
// answers again, within the retry window (inbox.ChatRetryWindow, 4
// hours) otherwise.
//
// Each event is posted at most once per successful delivery (the
// deliveries ledger); a connection lost after the provider accepted a
// message but before its answer arrived is retried, and the channel may
// then see it twice: incoming webhooks take no idempotency key.
//
// # Batching
//
// With Config.Batching the inbox posts one message per window per
// (webhook, subject): events gather in a window of package inbox/batch
// and go out together when it closes.
//
// Chat channels have no person to ask: preferences and a person's
// immediate/batched/off choice do not apply; the route is the choice.
package chat
