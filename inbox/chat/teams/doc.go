// Package teams posts activity events to Microsoft Teams channels through
// incoming webhooks: the chat.Provider of a chat.Inbox. It speaks both a
// Workflows webhook (the "When a Teams webhook request is received"
// trigger, which replaces the retired Office 365 connectors) and a legacy
// connector's URL: both take a message with an Adaptive Card attachment.
//
//	router, err := chat.NewRouter(chat.RouterConfig{Rules: []chat.Rule{
//		{Tenant: "acme", URL: acmeWorkflowURL, Locale: "de"},
//	}})
//	in, err := chat.NewInbox(chat.Config{Provider: teams.Provider{}, Router: router, Catalog: cat})
//
// The card's text is RichTextBlock TextRuns, which Teams shows as plain
// text: a label holding markdown or a link stays text.
//
// Teams' answers, and what the inbox does with them (see chat.Inbox): 202
// (Workflows) or 200 "1" (connector) is accepted; a connector's 200 with
// "HTTP error 429" in its text, or a 429, waits Retry-After
// (DefaultRetryAfter without one); 401, 404 and 410 (the workflow or
// connector was deleted, or the URL's signature is wrong) suppress the
// webhook and fail its deliveries as misconfigured; 5xx and no answer are
// held by the worker's breaker.
//
// Package teamstest serves such a webhook on 127.0.0.1 for tests and dev
// mode.
package teams
