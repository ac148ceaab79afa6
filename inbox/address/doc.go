// Package address delivers an event to each of a recipient's addresses
// of one kind (package inbox/device: web push subscriptions, FCM and
// APNs tokens, phone numbers): the part every address channel shares, so
// that a channel (inbox/webpush, inbox/mobilepush, inbox/sms) gives only
// what is its own, a Sender: how it words an event, how it sends to one
// address, and what a provider's refusal means (a Verdict).
//
// An Inbox of this package is an inbox.Inbox for the worker. For each
// event it
//
//   - resolves the recipients (Config.Recipients less the actor, people
//     without an ID and duplicates) and keeps those who want the event on
//     Config.Channel (inbox.Defaults.Wanted: mutes, Off kinds);
//   - with Config.Batching, honours each one's delivery choice on the
//     channel (immediate, batched on a schedule, off: inbox/batch): a
//     batched person's event joins their window once, and the window goes
//     out as one message (Sender.RenderBatch) when it closes;
//   - reads the immediate recipients' addresses of Config.Kind in the
//     event's tenant in one query (device.ListFor), less the suppressed
//     ones (Config.Suppressed) and an address an earlier recipient has;
//   - words the message once per recipient, in their language, and sends
//     it to each of their addresses, Config.Concurrency at a time, each
//     at most once per success: a ledger row per (inbox, event,
//     recipient and address) is claimed before the send and marked after
//     it (inbox.Delivery.SendTo), so a retried job skips the addresses
//     that took it.
//
// A channel's Sender reads each failed send as a Class:
//
//   - Gone (a token or subscription the provider no longer has): the
//     address is removed (device.Gone), so no later event tries it, and
//     recorded as refused; OptedOut (STOP) also suppresses it;
//   - RateLimited: the job waits the provider's Retry-After, and later
//     sends to that sink in this process wait too, without a request;
//   - Unauthorized: inbox.Misconfigured (a dead letter saying why);
//   - Rejected: refused for this message;
//   - Unavailable: inbox.Unreachable of the address's sink, retried by
//     time (Config.Policy: inbox.ChatRetryWindow) and held by a circuit
//     breaker while the sink is down.
//
// # Sinks and breakers
//
// A channel with one provider (an SMS account, an FCM project) has one
// sink, Config.Sink: the worker's breaker for it holds the inbox's jobs
// through an outage. A channel whose addresses are spread over providers
// (web push: each browser's push service) names each address's sink with
// Config.SinkOf; the inbox then keeps a breaker, a rate-limit wait and a
// misconfiguration per sink itself (Config.Breakers; Inbox.Breakers
// reports them), so a push service that is down holds only its own
// pushes while the other push services' go.
//
// # A channel of one's own
//
// A Sender is four methods on the channel's type; M is its message (a
// payload, a text):
//
//	type pager struct{ api string }
//
//	func (p pager) Render(loc string, ev activity.Event) (string, error) {
//		return ev.Domain + " " + ev.Action, nil
//	}
//
//	func (p pager) RenderBatch(loc string, events []activity.Event) (string, error) {
//		return fmt.Sprintf("%d updates", len(events)), nil
//	}
//
//	func (p pager) Send(ctx context.Context, to device.Address, text string) error {
//		return nil // post text to p.api for to.Address
//	}
//
//	func (p pager) Classify(err error) address.Verdict {
//		return address.Verdict{Class: address.Unavailable} // read the provider's answer
//	}
//
//	func newPager() (*address.Inbox[string], error) {
//		return address.NewInbox(address.Config[string]{Package: "pager", Kind: device.Phone, Sender: pager{api: "https://pager.example"},
//			Locale: "en", Recipients: func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]address.Recipient, error) {
//				return []address.Recipient{{ID: ev.SubjectID}}, nil
//			}})
//	}
package address
