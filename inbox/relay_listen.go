package inbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/tidingsdev/tidings/activity"
)

// listen keeps a LISTEN connection on activity.OutboxChannel and wakes the
// relay on each notification. It only speeds the relay up: polling goes on
// without it.
func (r *Relay) listen(ctx context.Context) {
	Listen(ctx, ListenConfig{
		DB:              r.cfg.DB,
		DSN:             r.cfg.ListenDSN,
		Channel:         activity.OutboxChannel,
		ApplicationName: ListenApplicationName,
		Up: func() {
			r.listenUp.Store(true)
			r.Wake() // rows committed while nobody listened
		},
		Notified: func() {
			r.Wake()
			if r.wakeWorker != nil {
				r.wakeWorker() // another relay may enqueue these rows: poll Redis meanwhile
			}
		},
		Down: func(err error, failures int, retryIn time.Duration) {
			r.listenUp.Store(false)
			r.Wake() // its pause may be ListeningPollInterval's: poll at PollInterval from now
			if failures == 1 || failures%20 == 0 {
				r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: relay LISTEN connection lost; polling meanwhile, reconnecting",
					slog.Any("error", err), slog.Duration("poll_interval", r.cfg.PollInterval), slog.Duration("retry_in", retryIn))
			}
		},
	})
	r.listenUp.Store(false)
}
