package inbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/internal/pgarray"
)

// EpochKey is the Redis key the relays of app keep their epoch marker in:
// a random value planted once (SET NX) and read every
// PendingConfig.LossCheckInterval. A Redis that lost its data (flushed,
// restarted without persistence) has lost the marker with it: the relay
// that notices makes every pending delivery due for a check at once and
// plants a new marker. Relays of one app share the key, so they agree on
// one epoch: a relay that finds a value other than the one it knew sweeps
// too (another relay saw the loss first and planted the new value).
func EpochKey(app string) string {
	if app == "" {
		return "tidings:epoch"
	}
	return app + ":tidings:epoch"
}

// lossState is the relay's Redis-loss detector state.
type lossState struct {
	rdb      redis.UniversalClient
	mu       sync.Mutex
	epoch    string        // the marker value this relay last saw or planted
	sweepNow chan struct{} // wakes the sweeper after a loss
	losses   atomic.Int64  // data losses noticed
}

func (r *Relay) initLoss() error {
	r.loss.sweepNow = make(chan struct{}, 1)
	if r.pending.inspector == nil || (r.cfg.Pending.LossCheckInterval < 0 && r.cfg.Pending.FailoverCheckInterval < 0) {
		return nil
	}
	rdb, err := RedisClient(r.cfg.Redis)
	if err != nil {
		return err
	}
	r.loss.rdb = rdb
	r.initFailover(rdb)
	return nil
}

func (r *Relay) closeLoss() {
	if r.loss.rdb != nil {
		_ = r.loss.rdb.Close()
	}
}

func (r *Relay) checksLoss() bool {
	return r.loss.rdb != nil && r.cfg.Pending.LossCheckInterval >= 0
}

// lossLoop checks the epoch marker every LossCheckInterval until ctx is
// done. A Redis that is down fails the GET: the loop just tries again,
// so the first check after Redis answers again (a reconnect) sees the loss.
func (r *Relay) lossLoop(ctx context.Context) {
	t := time.NewTicker(r.cfg.Pending.LossCheckInterval)
	defer t.Stop()
	failures := 0
	for {
		lost, err := r.CheckEpoch(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil:
			failures++
			if failures == 1 || failures%60 == 0 {
				r.log.LogAttrs(ctx, slog.LevelDebug, "inbox: the Redis epoch check failed; it tries again", slog.Any("error", err), slog.Int("failures", failures))
			}
		default:
			failures = 0
			if lost {
				select {
				case r.loss.sweepNow <- struct{}{}:
				default:
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckEpoch reads the epoch marker (EpochKey). When it is missing, or not
// the value this relay knew, Redis lost its data since the last check: it
// makes every pending delivery of its inboxes due for a check now (the
// sweeper then enqueues again the jobs Redis no longer has) and plants a
// new marker, and reports true. The first check of a relay plants the marker if it is
// missing and treats that as a loss too (Redis may have restarted empty
// while no relay ran). Run does this every PendingConfig.LossCheckInterval;
// CheckEpoch is for tests and tools.
func (r *Relay) CheckEpoch(ctx context.Context) (lost bool, err error) {
	if r.loss.rdb == nil {
		return false, &ConfigError{Field: "RelayConfig.Redis", Reason: "is needed to check Redis for data loss (or Pending.Disable is set)"}
	}
	r.loss.mu.Lock()
	defer r.loss.mu.Unlock()
	key := EpochKey(r.cfg.App)
	v, err := r.loss.rdb.Get(ctx, key).Result()
	err0 := err
	switch {
	case err == nil && v == r.loss.epoch:
		return false, nil
	case err == nil && r.loss.epoch == "":
		r.loss.epoch = v // a relay starting: the marker survived, nothing lost
		return false, nil
	case err == nil, errors.Is(err, redis.Nil):
	default:
		return false, fmt.Errorf("inbox: read the Redis epoch marker: %w", err)
	}
	// Lost (or replanted by a relay that saw the loss first). Make the
	// pending rows due before planting: a relay that dies in between
	// leaves the marker missing, and the next check does it again.
	names := make(pgarray.Text, 0, len(r.pending.byName))
	for name := range r.pending.byName {
		names = append(names, name)
	}
	if err := r.db.WithContext(ctx).Exec(`UPDATE `+PendingTable+` SET check_at = now() WHERE check_at > now() AND inbox = ANY(?::text[])`, names).Error; err != nil {
		return false, fmt.Errorf("inbox: make pending deliveries due after a Redis data loss: %w", err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	if _, err := r.loss.rdb.SetNX(ctx, key, hex.EncodeToString(b[:]), 0).Result(); err != nil {
		return false, fmt.Errorf("inbox: plant the Redis epoch marker: %w", err)
	}
	now, err := r.loss.rdb.Get(ctx, key).Result()
	if err != nil {
		return false, fmt.Errorf("inbox: read the Redis epoch marker: %w", err)
	}
	first := r.loss.epoch == "" && errors.Is(err0, redis.Nil)
	r.loss.epoch = now
	if first {
		// No marker yet: a first start, or a Redis that came back
		// empty while no relay ran. The rows are due either way.
		r.log.LogAttrs(ctx, slog.LevelInfo, "inbox: planted the Redis epoch marker; checking every pending delivery now", slog.String("key", key))
		return true, nil
	}
	r.loss.losses.Add(1)
	r.log.LogAttrs(ctx, slog.LevelWarn, "inbox: Redis lost its data (its epoch marker was gone or replaced); checking every pending delivery now",
		slog.String("key", key))
	return true, nil
}
