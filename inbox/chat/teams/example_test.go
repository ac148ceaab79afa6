package teams_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/chat/teams"
)

// What the chat inbox posts to a Teams workflow: one Adaptive Card, the
// title in bold and a line per event of a batch, each shown as plain text.
func ExampleProvider_Request() {
	req, err := teams.Provider{}.Request("https://prod.example.logic.azure.com/workflows/1/triggers/manual/paths/invoke",
		chat.Message{Title: "2 updates on #7", Lines: []string{"Ana commented", "Bo closed it"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(req.Body))
	// Output:
	// {"attachments":[{"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","body":[{"inlines":[{"text":"2 updates on #7","type":"TextRun","weight":"Bolder"}],"type":"RichTextBlock"},{"inlines":[{"text":"• Ana commented","type":"TextRun"}],"type":"RichTextBlock"},{"inlines":[{"text":"• Bo closed it","type":"TextRun"}],"type":"RichTextBlock"}],"type":"AdaptiveCard","version":"1.4"},"contentType":"application/vnd.microsoft.card.adaptive"}],"type":"message"}
}
