package observe

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tidingsdev/tidings/inbox"
)

// Delivery returns the inbox.Middleware observing each successful
// delivery's latency from the event's recording to its end
// (tidings_delivery_latency_seconds, per inbox). Put it in
// inbox.Config.Middleware; the outcome counters come from the worker's own
// (see Worker).
func (m *Metrics) Delivery() inbox.Middleware {
	var byInbox sync.Map // inbox name -> prometheus.Observer
	return func(next inbox.ProcessFunc) inbox.ProcessFunc {
		return func(ctx context.Context, d *inbox.Delivery) error {
			err := next(ctx, d)
			if err == nil && !d.Event.CreatedAt.IsZero() {
				o, ok := byInbox.Load(d.Inbox)
				if !ok {
					o, _ = byInbox.LoadOrStore(d.Inbox, m.latency.WithLabelValues(d.Inbox))
				}
				o.(prometheus.Observer).Observe(m.now().Sub(d.Event.CreatedAt).Seconds())
			}
			return err
		}
	}
}
