package measure

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox"
)

// IdleCPU starts something, lets it settle, and returns the CPU the
// process and the Redis server of rc spent over window, in percent of one
// core. A nil rc counts the process alone.
func IdleCPU(ctx context.Context, rc redis.UniversalClient, settle, window time.Duration, start func() (stop func(), err error)) (float64, error) {
	stop, err := start()
	if err != nil {
		return 0, err
	}
	defer stop()
	if err := SleepCtx(ctx, settle); err != nil {
		return 0, err
	}
	p0, r0, err := CPUNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := SleepCtx(ctx, window); err != nil {
		return 0, err
	}
	p1, r1, err := CPUNow(ctx, rc)
	if err != nil {
		return 0, err
	}
	return 100 * ((p1 - p0) + (r1 - r0)) / time.Since(t0).Seconds(), nil
}

// CPUNow returns the process's CPU seconds and the Redis server's (0
// without rc).
func CPUNow(ctx context.Context, rc redis.UniversalClient) (proc, rds float64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	proc = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	if rc == nil {
		return proc, 0, nil
	}
	info, err := rc.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, 0, fmt.Errorf("idle: Redis INFO cpu: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			rds += f
		}
	}
	return proc, rds, nil
}

// SleepCtx sleeps d, or until ctx is done.
func SleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IdleWorker starts a worker of the issue domain on db with one no-op
// inbox, settings adjusted by t (and by adjust, when not nil), and returns
// its Shutdown: what IdleCPU measures of the library.
func IdleWorker(ctx context.Context, db *gorm.DB, t Tuning, adjust func(*inbox.Config)) (stop func(), err error) {
	in := &noop{name: "bench-idle", count: new(atomic.Int64), done: make(chan struct{})}
	cfg := t.WorkerConfig(db, t.IssueDomain(), in)
	if adjust != nil {
		adjust(&cfg)
	}
	w, err := inbox.NewWorker(cfg)
	if err != nil {
		return nil, err
	}
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w.Shutdown, nil
}
