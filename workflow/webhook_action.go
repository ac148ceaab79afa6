package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/webhook"
)

// IdempotencyHeader carries ActionContext.IdempotencyKey on webhook
// requests: the same on every delivery of one action for one event, so a
// receiver can drop repeats.
const IdempotencyHeader = "Idempotency-Key"

// WebhookPayload is the JSON body the webhook action posts.
type WebhookPayload struct {
	Rule           WebhookRule  `json:"rule"`
	Event          WebhookEvent `json:"event"`
	IdempotencyKey string       `json:"idempotency_key"`
}

// WebhookRule names the rule in a WebhookPayload.
type WebhookRule struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// WebhookEvent is the triggering event in a WebhookPayload.
type WebhookEvent struct {
	ID         int64           `json:"id"`
	Domain     string          `json:"domain"`
	Action     string          `json:"action"`
	SubjectID  string          `json:"subject_id"`
	Actor      WebhookRef      `json:"actor"`
	Record     *WebhookRef     `json:"record"`
	Extra      json.RawMessage `json:"extra"`
	OccurredAt time.Time       `json:"occurred_at"`
	Depth      int             `json:"depth"`
}

// WebhookRef is an actor or record reference in a WebhookPayload.
type WebhookRef struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Label string `json:"label,omitempty"`
}

func webhookEvent(ev activity.Event) WebhookEvent {
	w := WebhookEvent{
		ID: ev.ID, Domain: ev.Domain, Action: ev.Action, SubjectID: ev.SubjectID,
		Actor: WebhookRef{Type: ev.ActorType, ID: ev.ActorID, Label: ev.ActorLabel},
		Extra: ev.Extra, OccurredAt: ev.OccurredAt, Depth: ev.Depth,
	}
	if r := ev.Record(); r != nil {
		w.Record = &WebhookRef{Type: r.Type, ID: r.ID, Label: r.Label}
	}
	if len(w.Extra) == 0 {
		w.Extra = json.RawMessage("{}")
	}
	return w
}

// webhookAction is the built-in webhook: it POSTs a WebhookPayload as JSON
// to an https URL through the safe client, signed when the rule gives a
// secret (see Sign). The URL is checked when the rule is saved
// (WebhookClient.CheckURL) and every connection again in the dialer. A
// refusal no retry can fix (a 4xx other than 408 and 429, a forbidden
// address) is permanent; a 5xx, 408, 429 or network failure is retried.
func webhookAction(c *WebhookClient) Action {
	return Action{
		Doc: "POST the event as JSON to an https URL, signed with the secret when one is given.",
		Params: ParamSchema{
			"url":    {Type: String, Required: true, Doc: "an https URL on a public address"},
			"secret": {Type: String, Secret: true, Doc: "signs each request (" + SignatureHeader + ")"},
		},
		External: true,
		Check: func(ctx context.Context, cc CheckContext) []Problem {
			err := c.CheckURL(ctx, cc.Params.String("url"))
			var ue *WebhookURLError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ue):
				return []Problem{{Field: "url", Message: fmt.Sprintf("%s: %s", quote(ue.URL), ue.Reason)}}
			}
			return []Problem{{Field: "url", Message: err.Error()}}
		},
		Run: func(ctx context.Context, ac ActionContext) (Result, error) {
			body, err := json.Marshal(WebhookPayload{
				Rule:           WebhookRule{ID: ac.Rule.ID, Name: ac.Rule.Name},
				Event:          webhookEvent(ac.Event),
				IdempotencyKey: ac.IdempotencyKey,
			})
			if err != nil {
				return Result{}, inbox.Permanent(err)
			}
			url := ac.Params.String("url")
			resp, err := c.Post(ctx, WebhookRequest{
				URL:    url,
				Body:   body,
				Secret: []byte(ac.Params.String("secret")),
				Header: http.Header{IdempotencyHeader: {ac.IdempotencyKey}},
			})
			// The receiver's failures reach the worker's breaker of its
			// sink (webhook.Sink), as a webhook subscription's do: a
			// receiver that does not answer is an outage (an
			// inbox.UnreachableError inside err), one that refuses the
			// setup (401, 403, 404, 410, an untrusted certificate) a
			// misconfiguration, failed at once with the reason and
			// reported by health until it answers again.
			sink := webhook.Sink(url)
			var we *WebhookError
			if errors.As(err, &we) && !we.Retryable() {
				if mis := webhook.Misconfigured(sink, err); mis != nil {
					return Result{}, mis
				}
				return Result{}, inbox.Permanent(err)
			}
			if err != nil {
				return Result{}, err
			}
			if ac.answered != nil {
				ac.answered(sink)
			}
			return Result{
				Summary: fmt.Sprintf("POST %s answered %d", webhook.Redact(url), resp.StatusCode),
				Data:    map[string]any{"status": resp.StatusCode},
			}, nil
		},
	}
}
