// Package slacktest runs a fake Slack Web API over real HTTP on 127.0.0.1,
// for tests and the demo's dev mode.
//
// slack-go's real client talks to it through slack.OptionAPIURL:
//
//	srv := slacktest.Start(t, slacktest.Config{Token: "xoxb-test"})
//	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.APIURL()))
//
// It serves chat.postMessage (recording channel, text, blocks, thread_ts and
// answering a fresh ts), auth.test, and incoming webhooks at
// WebhookURL(name). FailNext programs failures: Slack error codes
// (channel_not_found, invalid_auth, not_in_channel, ...) and 429 replies
// with Retry-After. DeleteMessage makes later replies to a message land
// outside any thread, as Slack does when a thread's parent is gone.
//
// slack-go ships a slacktest package of its own; it targets RTM bots, keeps
// state across servers in a package-level hub and can neither fail on
// demand nor serve webhooks, hence this one.
package slacktest
