package main

import (
	"testing"

	"github.com/tidingsdev/tidings/inbox/chat/discord"
)

// The dev page shows Discord text as typed: what discord.Escape escaped
// comes back as it was.
func TestDiscordShow(t *testing.T) {
	for _, s := range []string{"Ben Okafor commented on #8", "a*b_c~d`e|f>g<h[i]j(k)l#m-n\\o", imgPayload, `\#`} {
		if got := discordShow(discord.Escape(s)); got != s {
			t.Errorf("%q, escaped %q, shows as %q", s, discord.Escape(s), got)
		}
	}
}
