package teams

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/inbox/chat"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// Provider speaks Microsoft Teams' incoming webhooks (a Workflows "When a
// Teams webhook request is received" trigger, or a legacy Office 365
// connector): a chat.Provider.
type Provider struct{}

// Name implements chat.Provider: "teams".
func (Provider) Name() string { return "teams" }

// AdaptiveCardType is the content type of an Adaptive Card attachment.
const AdaptiveCardType = "application/vnd.microsoft.card.adaptive"

// Request implements chat.Provider: a message with one Adaptive Card
// (version 1.4): the title in bold and a line per event of a batch, each
// a RichTextBlock of one TextRun, which Teams shows as plain text (a
// TextBlock would render markdown: a label's [a](b) would become a link).
func (Provider) Request(webhookURL string, msg chat.Message) (webhook.Request, error) {
	// Maps, not tagged structs: the keys are Teams' (contentType,
	// $schema), not the library's snake_case.
	type obj = map[string]any
	block := func(text, weight string) obj {
		run := obj{"type": "TextRun", "text": text}
		if weight != "" {
			run["weight"] = weight
		}
		return obj{"type": "RichTextBlock", "inlines": []obj{run}}
	}
	body := []obj{block(msg.Title, "Bolder")}
	for _, l := range msg.Lines {
		body = append(body, block("• "+l, ""))
	}
	raw, err := json.Marshal(obj{"type": "message", "attachments": []obj{{
		"contentType": AdaptiveCardType,
		"content":     obj{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body},
	}}})
	if err != nil {
		return webhook.Request{}, err
	}
	return webhook.Request{URL: webhookURL, Body: raw}, nil
}

// apiError is a Workflows error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// DefaultRetryAfter is the wait of a 429 that names none.
const DefaultRetryAfter = 5 * time.Second

// Read implements chat.Provider. A Workflows trigger answers 202; a legacy
// connector 200 with the body "1", or 200 with an error text, which is
// how it reports its own rate limit ("... HTTP error 429 ..."): that is
// read as a 429, any other text as a refusal. A 429 waits its Retry-After
// (DefaultRetryAfter without one). Other answers are refused with the
// Workflows error code and message when the body has them.
func (Provider) Read(resp *webhook.Response, now time.Time) (time.Duration, *chat.PostError) {
	body := bytes.TrimSpace(resp.Body)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if len(body) == 0 || string(body) == "1" || body[0] == '{' {
			return 0, nil
		}
		pe := &chat.PostError{Status: resp.StatusCode, Message: string(body)}
		if strings.Contains(string(body), "429") {
			pe.Status, pe.RetryAfter = http.StatusTooManyRequests, retryAfter(resp, now)
		}
		return 0, pe
	}
	pe := &chat.PostError{Status: resp.StatusCode}
	var ae apiError
	if json.Unmarshal(body, &ae) == nil && ae.Error.Code != "" {
		pe.Code, pe.Message = ae.Error.Code, ae.Error.Message
	} else if len(body) > 0 && len(body) < 500 {
		pe.Message = string(body)
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		pe.RetryAfter = retryAfter(resp, now)
	}
	return 0, pe
}

func retryAfter(resp *webhook.Response, now time.Time) time.Duration {
	if d, ok := chat.ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok && d > 0 {
		return d
	}
	return DefaultRetryAfter
}
