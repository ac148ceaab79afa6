package address

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/batch"
	"github.com/tidingsdev/tidings/inbox/device"
)

// Sender is what a channel gives the core: how it words an event, how it
// sends to one address, and what a failed send means. M is the channel's
// message, rendered once per recipient (their language) and sent to each
// of their addresses.
type Sender[M any] interface {
	// Render words ev for a reader of loc. An error is permanent.
	Render(loc string, ev activity.Event) (M, error)
	// RenderBatch words a closed window's events (oldest first) for a
	// reader of loc. An error is permanent.
	RenderBatch(loc string, events []activity.Event) (M, error)
	// Send delivers m to one address. It returns nil when the provider
	// accepted it, else an error Classify reads; the error's text must
	// not hold the address (a person's data).
	Send(ctx context.Context, to device.Address, m M) error
	// Classify says what a non-nil error of Send means.
	Classify(err error) Verdict
}

// Config configures an Inbox: the channel's Sender and kind of address,
// and the fields every address channel has. Zero fields take the
// documented defaults.
type Config[M any] struct {
	// Package names the channel in errors and configuration errors
	// ("webpush", "sms", "mobilepush"). Required.
	Package string
	// Kind is the kind of address delivered to (device.WebPush,
	// device.Phone, device.FCM, device.APNs). Required.
	Kind device.Kind
	// Sender words and sends. Required.
	Sender Sender[M]
	// Name is the inbox's name. Default Package. It is part of task IDs
	// and ledger rows: renaming it re-delivers.
	Name string
	// Accepts selects the events to deliver. Default: every event.
	Accepts inbox.Filter
	// Recipients says who may be told of an event. Required.
	Recipients RecipientsFunc
	// RecipientType is the actor type recipients' IDs are keys of: an
	// event's actor of this type is not told of their own act. Default
	// "users".
	RecipientType string
	// Channel is the preference channel consulted, and the suppression
	// list's channel. Default Package.
	Channel string
	// Defaults are the app's defaults, critical kinds and default
	// delivery choices (see inbox.Defaults). Default nil: every kind on,
	// immediately.
	Defaults *inbox.Defaults
	// Locale words a recipient's messages when they have none. Required
	// (the channel's catalog's fallback).
	Locale string
	// Suppressed leaves out the addresses on the suppression list of
	// Channel (an SMS number whose owner texted STOP). Default false.
	Suppressed bool
	// Sink names the provider for the worker's circuit breaker. Default
	// Package.
	Sink string
	// SinkOf, when set, names each address's own sink (web push: the
	// push service's origin): the core keeps a circuit breaker, a
	// rate-limit wait and a misconfiguration per sink, so one sink's
	// outage holds only its own addresses' deliveries. Default nil:
	// every address is Sink's, and the worker's breaker for Sink holds
	// the inbox's deliveries.
	SinkOf func(device.Address) string
	// Breakers configures the per-sink breakers of SinkOf (see
	// inbox.BreakerConfig; Disable sends whatever a sink's state).
	Breakers inbox.BreakerConfig
	// Concurrency is how many addresses of one event are sent to at
	// once. Default 8.
	Concurrency int
	// Policy is how the worker runs the inbox's jobs. Default: queue
	// "tidings." and Package, retried by time for inbox.ChatRetryWindow
	// (4 hours, backoff 5s to 15 minutes) unless MaxRetry or RetryWindow
	// is set.
	Policy inbox.Policy
	// Batching, when set, honours each recipient's delivery choice on
	// Channel (see BatchingConfig). Default nil: everyone who wants the
	// event gets it at once.
	Batching *BatchingConfig
	// Logger reports addresses removed and breakers' changes. Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock of rate-limit waits and breakers. Default
	// time.Now.
	Now func() time.Time
}

// Inbox delivers events to each of a recipient's addresses of one kind:
// an inbox.Inbox for the worker, which a channel package wraps with its
// Sender. See the package documentation.
type Inbox[M any] struct {
	cfg      Config[M]
	batcher  *batch.Batcher // with Batching
	ledger   *inbox.Ledger  // the windows' sends, with Batching
	limits   *limits
	breakers *breakers // with SinkOf
}

// Channel is the preference channel the inbox consults (Config.Channel,
// by default the channel's package name): inbox.Channeled.
func (in *Inbox[M]) Channel() string { return in.cfg.Channel }

// NewInbox checks cfg and returns the inbox.
func NewInbox[M any](cfg Config[M]) (*Inbox[M], error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: cfg.Package + ".Config." + field, Reason: reason}
	}
	switch {
	case cfg.Package == "":
		return nil, &inbox.ConfigError{Field: "address.Config.Package", Reason: "is empty: name the channel"}
	case cfg.Kind == "":
		return nil, bad("Kind", "is empty")
	case cfg.Sender == nil:
		return nil, bad("Sender", "is nil")
	case cfg.Recipients == nil:
		return nil, bad("Recipients", "is nil: say who is told of an event")
	}
	if err := cfg.Defaults.Check(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Package
	}
	if cfg.Accepts == nil {
		cfg.Accepts = func(string, string) bool { return true }
	}
	if cfg.RecipientType == "" {
		cfg.RecipientType = "users"
	}
	if cfg.Channel == "" {
		cfg.Channel = cfg.Package
	}
	if cfg.Sink == "" {
		cfg.Sink = cfg.Package
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = "tidings." + cfg.Package
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		cfg.Policy.RetryWindow = inbox.ChatRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(5*time.Second, 15*time.Minute)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	in := &Inbox[M]{cfg: cfg, limits: &limits{now: cfg.Now, until: map[string]limit{}}}
	if cfg.SinkOf != nil {
		in.breakers = newBreakers(cfg.Breakers, cfg.Now, cfg.Logger.With(slog.String("inbox", cfg.Name)))
	}
	if cfg.Batching != nil {
		if err := in.newBatcher(); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// Name implements inbox.Inbox.
func (in *Inbox[M]) Name() string { return in.cfg.Name }

// Accepts implements inbox.Inbox with Config.Accepts.
func (in *Inbox[M]) Accepts(domain, action string) bool { return in.cfg.Accepts(domain, action) }

// Policy implements inbox.InboxWithPolicy.
func (in *Inbox[M]) Policy() inbox.Policy { return in.cfg.Policy }

// Sink implements inbox.InboxWithSink with Config.Sink.
func (in *Inbox[M]) Sink() string { return in.cfg.Sink }

// Process implements inbox.Inbox: it delivers the event to each address
// of each recipient who wants it now (and, with Batching, puts it in the
// window of each who chose a batched delivery), once.
//
// The recipients' preferences, their delivery choices (with Batching) and
// their addresses are read at once, each statement on a connection of
// its own: the delivery waits for one round trip, not three.
func (in *Inbox[M]) Process(ctx context.Context, d *inbox.Delivery) error {
	ev := d.Event
	byID, ids, err := in.candidates(ctx, d.DB, ev)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		d.Suppress() // nobody to tell
		return nil
	}
	var (
		wg               sync.WaitGroup
		wanted           []string
		choices          map[string]inbox.Choice
		addrs            map[string][]device.Address
		werr, cerr, aerr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		wanted, werr = in.cfg.Defaults.Wanted(ctx, d.DB, in.cfg.Channel, ev.Domain, ev.Action, ev.SubjectID, ids)
	}()
	go func() {
		defer wg.Done()
		addrs, aerr = in.reachable(ctx, d.DB, ids)
	}()
	if in.batcher != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			choices, cerr = in.cfg.Defaults.Choices(ctx, d.DB, in.cfg.Channel, ev.Domain, ev.Action, ev.SubjectID, ids)
		}()
	}
	wg.Wait()
	if werr != nil {
		return werr
	}
	if cerr != nil {
		return fmt.Errorf("%s inbox %s: choices for %s: %w", in.cfg.Package, in.cfg.Name, ev.Ref(), cerr)
	}
	if aerr != nil {
		return aerr
	}
	to := make([]Recipient, len(wanted))
	for i, id := range wanted {
		to[i] = byID[id]
	}
	if len(to) == 0 {
		d.Suppress() // all muted it
		return nil
	}
	batched := false // some window took the event
	if in.batcher != nil {
		to, batched, err = in.processBatching(ctx, d, to, choices)
		if err != nil {
			return err
		}
	}
	var sends []send[M]
	seen := map[string]bool{} // one send per address: the first recipient who has it
	for _, r := range to {
		var m M
		rendered := false
		for _, a := range addrs[r.ID] {
			if seen[a.Address] {
				continue
			}
			seen[a.Address] = true
			if !rendered {
				if m, err = in.cfg.Sender.Render(in.locale(r.Locale), ev); err != nil {
					return inbox.Permanent(fmt.Errorf("%s inbox %s: %s: %w", in.cfg.Package, in.cfg.Name, ev.Ref(), err))
				}
				rendered = true
			}
			sends = append(sends, send[M]{key: Key(r.ID, a.Address), to: a, msg: m})
		}
	}
	if len(sends) == 0 {
		if !batched {
			d.Suppress() // nobody has an address (left)
		}
		return nil
	}
	if err := in.deliver(ctx, d, sends); err != nil {
		return fmt.Errorf("%s inbox %s: %w", in.cfg.Package, in.cfg.Name, err)
	}
	return nil
}

// reachable returns each recipient's addresses of the inbox's kind in the
// context's tenant, the most recently registered first, without the
// suppressed ones (Config.Suppressed).
func (in *Inbox[M]) reachable(ctx context.Context, db *gorm.DB, ids []string) (map[string][]device.Address, error) {
	byPerson, err := device.ListFor(ctx, db, ids, in.cfg.Kind)
	if err != nil {
		return nil, fmt.Errorf("%s inbox %s: addresses: %w", in.cfg.Package, in.cfg.Name, err)
	}
	if !in.cfg.Suppressed || len(byPerson) == 0 {
		return byPerson, nil
	}
	var all []string
	for _, as := range byPerson {
		for _, a := range as {
			all = append(all, a.Address)
		}
	}
	stopped, err := inbox.Suppressed(ctx, db, in.cfg.Channel, all)
	if err != nil {
		return nil, fmt.Errorf("%s inbox %s: %w", in.cfg.Package, in.cfg.Name, err)
	}
	for id, as := range byPerson {
		kept := as[:0]
		for _, a := range as {
			if _, s := stopped[a.Address]; !s {
				kept = append(kept, a)
			}
		}
		byPerson[id] = kept
	}
	return byPerson, nil
}

// send is one message to one address, keyed in the ledger.
type send[M any] struct {
	key string
	to  device.Address
	msg M
}

// deliver sends each of sends once (the ledger skips those sent before),
// Config.Concurrency at a time. A refused address does not fail the
// delivery; a sink that is down, held or misconfigured fails its own
// addresses' sends (the retry, or the breaker, takes them) while the
// other sinks' go on; a cancelled context stops all.
func (in *Inbox[M]) deliver(ctx context.Context, d *inbox.Delivery, sends []send[M]) error {
	var (
		mu       sync.Mutex
		failed   []error
		wait     time.Duration
		stopped  = map[string]bool{} // sinks down or misconfigured in this attempt
		sem      = make(chan struct{}, in.cfg.Concurrency)
		wg       sync.WaitGroup
		fatalErr error
	)
	for _, s := range sends {
		sink := in.sinkOf(s.to)
		mu.Lock()
		skip := stopped[sink] || ctx.Err() != nil
		mu.Unlock()
		if skip {
			continue
		}
		if held := in.held(sink); held != nil {
			mu.Lock()
			failed = append(failed, held)
			wait = max(wait, retryAfterOf(held))
			stopped[sink] = true
			mu.Unlock()
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(s send[M]) {
			defer func() { <-sem; wg.Done() }()
			_, err := d.SendTo(ctx, s.key, func(ctx context.Context) error { return in.send(ctx, d.DB, s.to, s.msg, sink) })
			var refused *inbox.RefusedError
			if err == nil || errors.As(err, &refused) {
				if in.breakers != nil {
					d.Answered(sink) // the worker's breaker of the sink, which its failures opened
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, inbox.ErrMisconfigured) && fatalErr == nil:
				fatalErr = err
				stopped[sink] = true
			case errors.Is(err, inbox.ErrSinkDown):
				// Every other address of the sink would fail the same
				// way: the retry (or the breaker) takes them; the ledger
				// keeps those sent already from being sent again.
				stopped[sink] = true
			}
			failed = append(failed, err)
			wait = max(wait, retryAfterOf(err))
		}(s)
	}
	wg.Wait()
	switch {
	case fatalErr != nil:
		return errors.Join(append([]error{fatalErr}, without(failed, fatalErr)...)...)
	case len(failed) == 0:
		return nil
	case len(failed) == 1:
		return failed[0]
	case wait > 0: // the longest wait asked for, not the first
		return inbox.RetryAfter(wait, errors.Join(failed...))
	}
	return errors.Join(failed...)
}

func without(errs []error, e error) []error {
	out := make([]error, 0, len(errs))
	for _, x := range errs {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// retryAfterOf is the delay an error asks for (inbox.RetryAfter), 0 for
// none.
func retryAfterOf(err error) time.Duration {
	var ra *inbox.RetryAfterError
	if errors.As(err, &ra) {
		return ra.Delay
	}
	return 0
}

func (in *Inbox[M]) sinkOf(a device.Address) string {
	if in.cfg.SinkOf == nil {
		return in.cfg.Sink
	}
	return in.cfg.SinkOf(a)
}
