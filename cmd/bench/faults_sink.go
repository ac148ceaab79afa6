package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

// The sink-fault runs' breaker, scaled down from the defaults (10s, 30s)
// so that several outages fit in a run: the probe interval reaches
// MaxOpenFor after four failed probes.
var sinkFaultBreakers = inbox.BreakerConfig{Failures: 3, OpenFor: 500 * time.Millisecond, MaxOpenFor: 4 * time.Second}

// sinkFaultFigures: an SMTP server (smtptest, in-process) goes down while
// mails are recorded; the worker (the email inbox's own policy: backoff 1
// minute to 1 hour, retried by time) holds them, its probes failing until
// the probe interval is MaxOpenFor; the server comes back at a random
// phase of that interval. Resume is the time from the server answering
// again to the last mail accepted. Its floors, measured in the same run:
// the same mails sent directly with the Sender once the server answers
// (the cost of the sends themselves), and one probe interval plus that
// (the bound: a worker cannot know sooner than its next probe).
func sinkFaultFigures(ctx context.Context, b *bench) ([]figure, error) {
	runs := 5
	mails := b.size(40, 10)
	b.logf("faults: SMTP server down then back, %d mails, %d runs", mails, runs)
	srv, err := smtptest.NewServer(smtptest.Config{})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	sender, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), TLS: email.TLSNone, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	builder, err := sinkFaultBuilder()
	if err != nil {
		return nil, err
	}
	var resume, direct []time.Duration
	var held int64
	for run := range runs {
		r, d, h, err := sinkFaultRun(ctx, b, srv, sender, builder, run, mails)
		if err != nil {
			return nil, err
		}
		resume, direct = append(resume, r), append(direct, d)
		held += h
		b.logf("faults: run %d: all %d mails %v after the server's return (direct send %v)", run+1, mails, r.Round(time.Millisecond), d.Round(time.Millisecond))
	}
	probe := sinkFaultBreakers.MaxOpenFor
	p50, worst := percentile(resume, 50), percentile(resume, 100)
	directP50, directMax := percentile(direct, 50), percentile(direct, 100)
	b.note("faults: an SMTP server down until the breaker probes every %v (MaxOpenFor, scaled from 30s), back at a random phase of it; %d mails per run, %d runs; resume = server answering again to the last mail accepted, p50 %.0f ms, max %.0f ms; the same mails sent directly once it answers: p50 %.0f ms, max %.0f ms; %d attempts held over the runs. The bound is one probe interval plus asynq's retry granularity (it keeps retry times in whole seconds, and moves due retries every DelayedTaskCheckInterval, 1s: up to 2s together) plus the direct send; once the probe succeeds, the worker releases the other held jobs at once.",
		probe, mails, runs, ms(p50), ms(worst), ms(directP50), ms(directMax), held)
	bound := (probe + 2*time.Second + directMax).Round(time.Millisecond)
	return []figure{
		{Name: "time to resume after an SMTP server returns, p50, vs the same mails sent directly", Unit: "ms", Ours: ms(p50), Baseline: ms(directP50), Target: target{Max: ms(bound)}},
		{Name: "time to resume after an SMTP server returns, max, vs one probe interval + asynq's 2s + a direct send", Unit: "ms", Ours: ms(worst), Baseline: ms(bound), Target: target{MaxRatio: 1}},
	}, nil
}

func sinkFaultBuilder() (*email.Builder, error) {
	tpls := email.NewTemplates(email.TemplatesConfig{})
	if err := tpls.Register("issue", email.AnyAction, email.DefaultTemplate()); err != nil {
		return nil, err
	}
	return email.NewBuilder(email.BuilderConfig{
		From: "Tidings <notify@example.com>", Templates: tpls,
		SubjectURL: func(ev activity.Event) string {
			return fmt.Sprintf("https://tracker.example.com/issues/%s", ev.SubjectID)
		},
	})
}

// sinkFaultRun is one outage: it returns the time from the server's return
// to the last mail, a direct send of as many mails after it, and the
// attempts the worker held.
func sinkFaultRun(ctx context.Context, b *bench, srv *smtptest.Server, sender *email.Sender, builder *email.Builder, run, mails int) (time.Duration, time.Duration, int64, error) {
	if err := clearOutbox(ctx, b); err != nil {
		return 0, 0, 0, err
	}
	if err := flushBenchRedis(ctx); err != nil {
		return 0, 0, 0, err
	}
	to := email.Recipient{ID: "1", Name: "Bob", Email: "bob@example.com"}
	in, err := email.NewInbox(email.InboxConfig{
		Name: fmt.Sprintf("bench-sink-%d-%d", time.Now().UnixNano(), run), Builder: builder, Transport: sender,
		Recipients: func(context.Context, *gorm.DB, activity.Event) ([]email.Recipient, error) {
			return []email.Recipient{to}, nil
		},
		Accepts: func(_, action string) bool { return action == "label_added" },
		Logger:  quietLogger(),
	})
	if err != nil {
		return 0, 0, 0, err
	}
	var mu sync.Mutex
	opens := 0
	w, err := inbox.NewWorker(inbox.Config{DB: b.db, Redis: benchRedis(), Domains: []*activity.Domain{b.issues}, Inboxes: []inbox.Inbox{in},
		Breakers: sinkFaultBreakers, Logger: quietLogger()})
	if err != nil {
		return 0, 0, 0, err
	}
	w.OnBreakerChange(func(s inbox.BreakerState) {
		mu.Lock()
		if s.State == inbox.BreakerOpen {
			opens++
		}
		mu.Unlock()
	})
	if err := w.Start(ctx); err != nil {
		return 0, 0, 0, err
	}
	defer w.Shutdown()
	if err := srv.Stop(); err != nil {
		return 0, 0, 0, err
	}
	base := len(srv.Messages())
	actor := activity.Actor(activity.Ref{Type: "users", ID: "2", Label: "User 2"})
	for i := range mails {
		if _, err := b.issues.RecordEvent(ctx, b.db, int64(1+i%fixtureIssues), "label_added", actor); err != nil {
			return 0, 0, 0, err
		}
	}
	// Probes fail until the interval is MaxOpenFor (0.5, 1, 2, 4s), then
	// the server returns at a random phase of it.
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := opens
		mu.Unlock()
		if n >= 5 {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, 0, fmt.Errorf("faults: the breaker opened %d times in a minute, want 5", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(rand.Int64N(int64(sinkFaultBreakers.MaxOpenFor))))
	back := time.Now()
	if err := srv.Resume(); err != nil {
		return 0, 0, 0, err
	}
	if _, err := srv.WaitFor(base+mails, 2*time.Minute); err != nil {
		return 0, 0, 0, fmt.Errorf("faults: %w", err)
	}
	resume := time.Since(back)
	var held int64
	for _, s := range w.Breakers() {
		held += s.Held
	}
	w.Shutdown()

	// The floor: the same number of mails sent directly, as the worker
	// would (its concurrency, 20 at once).
	start := time.Now()
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	sem := make(chan struct{}, 20)
	for i := range mails {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ev := activity.Event{ID: int64(1_000_000_000 + run*10_000 + i), Domain: "issue", SubjectID: "1", Action: "label_added", ActorType: "users", ActorID: "2", ActorLabel: "User 2", Extra: []byte("{}"), OccurredAt: time.Now()}
			m, err := builder.Build(ctx, ev, to)
			if err == nil {
				err = sender.Send(ctx, m)
			}
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		}()
	}
	wg.Wait()
	if p := failed.Load(); p != nil {
		return 0, 0, 0, *p
	}
	return resume, time.Since(start), held, nil
}
