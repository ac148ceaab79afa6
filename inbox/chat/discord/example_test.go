package discord_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/chat/discord"
)

// What the chat inbox posts to a Discord webhook: user text shows as typed
// (markdown escaped), pings nobody (allowed_mentions empty), and Discord
// answers once the message is saved (?wait=true).
func ExampleProvider_Request() {
	req, err := discord.Provider{}.Request("https://discord.com/api/webhooks/123/token",
		chat.Message{Title: "Ana commented on #7: **urgent** @everyone"})
	if err != nil {
		panic(err)
	}
	fmt.Println(req.URL)
	fmt.Println(string(req.Body))
	// Output:
	// https://discord.com/api/webhooks/123/token?wait=true
	// {"content":"Ana commented on \\#7: \\*\\*urgent\\*\\* @everyone","allowed_mentions":{"parse":[]}}
}
