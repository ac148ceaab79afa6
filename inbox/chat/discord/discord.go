package discord

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// Discord's limits on a webhook message.
const (
	MaxContent     = 2000 // characters of content
	MaxDescription = 4096 // characters of an embed's description
)

// Provider speaks Discord's Execute Webhook API: a chat.Provider.
type Provider struct{}

// Name implements chat.Provider: "discord".
func (Provider) Name() string { return "discord" }

// Payload is the JSON body of an Execute Webhook request, as far as this
// package sends it.
type Payload struct {
	Content         string          `json:"content"`
	Embeds          []Embed         `json:"embeds,omitempty"`
	AllowedMentions AllowedMentions `json:"allowed_mentions"`
}

// Embed is a rich block under the content.
type Embed struct {
	Description string `json:"description,omitempty"`
	Timestamp   string `json:"timestamp,omitempty"`
}

// AllowedMentions says whom a message may ping: nobody (Parse empty), so
// a label holding @everyone or <@123> notifies no one.
type AllowedMentions struct {
	Parse []string `json:"parse"`
}

// Request implements chat.Provider: the message's title is the content,
// a batch's lines an embed's description (escaped: user text shows as
// typed, links and mentions inert), posted with ?wait=true so Discord
// answers once the message is saved.
func (Provider) Request(webhookURL string, msg chat.Message) (webhook.Request, error) {
	p := Payload{Content: truncate(Escape(msg.Title), MaxContent), AllowedMentions: AllowedMentions{Parse: []string{}}}
	if len(msg.Lines) > 0 {
		var b strings.Builder
		for _, l := range msg.Lines {
			b.WriteString("• " + Escape(l) + "\n")
		}
		e := Embed{Description: truncate(b.String(), MaxDescription)}
		if n := len(msg.Events); n > 0 {
			e.Timestamp = msg.Events[n-1].OccurredAt.UTC().Format(time.RFC3339)
		}
		p.Embeds = []Embed{e}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return webhook.Request{}, err
	}
	return webhook.Request{URL: waitURL(webhookURL), Body: body}, nil
}

func waitURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()
	return u.String()
}

// apiError is Discord's error body; a 429's carries retry_after (seconds,
// with a fraction) and global.
type apiError struct {
	Message    string   `json:"message"`
	Code       int      `json:"code"`
	RetryAfter *float64 `json:"retry_after"`
	Global     bool     `json:"global"`
}

// Read implements chat.Provider. A 2xx is accepted; when its
// X-RateLimit-Remaining is 0 the webhook's bucket is empty and the next
// post waits X-RateLimit-Reset-After. A 429 waits the body's retry_after,
// else the Retry-After header, else a second. Any other answer is refused
// with Discord's code and message (10015 Unknown Webhook on a 404, 50027
// Invalid Webhook Token on a 401).
func (Provider) Read(resp *webhook.Response, now time.Time) (time.Duration, *chat.PostError) {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if resp.Header.Get("X-RateLimit-Remaining") == "0" {
			if d, ok := chat.ParseRetryAfter(resp.Header.Get("X-RateLimit-Reset-After"), now); ok {
				return d, nil
			}
		}
		return 0, nil
	}
	pe := &chat.PostError{Status: resp.StatusCode}
	var ae apiError
	if json.Unmarshal(resp.Body, &ae) == nil {
		pe.Message = ae.Message
		if ae.Code != 0 {
			pe.Code = strconv.Itoa(ae.Code)
		}
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		switch d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), now); {
		case ae.RetryAfter != nil && *ae.RetryAfter >= 0:
			pe.RetryAfter = time.Duration(*ae.RetryAfter * float64(time.Second))
		case ok:
			pe.RetryAfter = d
		}
		if pe.RetryAfter <= 0 {
			pe.RetryAfter = time.Second
		}
	}
	return 0, pe
}

// Escape makes user text show as typed in Discord's markdown: a
// backslash before each markdown character, so **x**, [a](b) links,
// `code`, > quotes and # headings stay text. (Mentions are made inert by
// AllowedMentions, not by escaping.)
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '*', '_', '~', '`', '|', '>', '<', '[', ']', '(', ')', '#', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// truncate cuts s to n characters, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
