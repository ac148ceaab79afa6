package inbox

// Channeled is an inbox that honours each person's preferences and
// delivery choices on one channel (ChannelEmail, "sms", "webpush",
// "mobilepush", a channel of the app's): the email inbox and the address
// channels (web push, SMS, mobile push) are. tidings.NewClient's
// preference page shows a column for the channel of each such inbox it
// runs (Config.Inboxes), after the in-app one, so a person can turn each
// kind of event on or off, or batch it, where it reaches them; an inbox
// that is not Channeled (a Slack channel, a chat webhook, an archive)
// reaches no one person's address and has no column.
type Channeled interface {
	Inbox
	// Channel is the preference channel the inbox consults.
	Channel() string
}
