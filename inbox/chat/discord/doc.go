// Package discord posts activity events to Discord channels through
// incoming webhooks (Discord's Execute Webhook API): the chat.Provider of
// a chat.Inbox.
//
//	router, err := chat.NewRouter(chat.RouterConfig{Rules: []chat.Rule{
//		{Tenant: "acme", URL: "https://discord.com/api/webhooks/123/abc"}, // acme's channel
//	}})
//	in, err := chat.NewInbox(chat.Config{Provider: discord.Provider{}, Router: router, Catalog: cat})
//
// A message is the event's title in the channel's language (the catalog's
// "<domain>.<action>.title"); a batch adds an embed listing a line per
// event. User text is escaped for Discord's markdown and allowed_mentions
// is empty, so a label holding @everyone pings nobody. Posts go with
// ?wait=true, so a 200 means the message is saved.
//
// Discord's answers, and what the inbox does with them (see chat.Inbox):
// 429 carries retry_after in its JSON body and Retry-After in its headers:
// the job waits it, and so do later posts to the same webhook; a 2xx with
// X-RateLimit-Remaining 0 makes the next post wait X-RateLimit-Reset-After
// instead of drawing a 429. 404 (code 10015, Unknown Webhook) and 401
// (code 50027, Invalid Webhook Token): the webhook is gone, suppressed,
// and its deliveries fail as misconfigured. 5xx and no answer: the
// worker's breaker for https://discord.com holds the deliveries.
//
// Package discordtest serves Discord's webhook API on 127.0.0.1 for tests
// and dev mode.
package discord
