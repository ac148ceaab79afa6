package inbox

import (
	"context"
	"fmt"
	"regexp"
	"slices"
)

// Inbox is one place committed events go: an email channel, a Slack
// channel, the in-app notifications, the workflow engine, or a function of
// the app's own.
//
// The worker enqueues one job per (event, inbox) for every inbox whose
// Accepts returns true, and calls Process for it, at least once; Process
// uses the Delivery's ledger to make its effects happen once.
type Inbox interface {
	// Name identifies the inbox. It must be stable: it is part of the task
	// IDs that dedupe enqueues and of every ledger row, so renaming an
	// inbox makes it a new inbox: the old name's pending jobs find no
	// inbox, and its ledger rows do not stop the new name from delivering
	// an event again. 1-64 of a-z 0-9 _ . -, starting with a letter.
	Name() string

	// Accepts reports whether the inbox wants events of this domain and
	// action. The relay calls it for every committed event before
	// enqueueing anything, so it must be cheap, pure and fast: no I/O.
	// An inbox that returns false gets no job.
	Accepts(domain, action string) bool

	// Process handles one delivery of one event. Returning nil completes
	// the job. An error makes the worker retry it with backoff, up to the
	// inbox's Policy.MaxRetry times, unless it is Permanent; RetryAfter
	// sets the delay before the next attempt.
	Process(ctx context.Context, d *Delivery) error
}

// Filter is an Accepts function: it reports whether an inbox wants events of
// a domain and action.
type Filter func(domain, action string) bool

// On returns a Filter accepting the given actions of domain, or every action
// of domain when none is given.
func On(domain string, actions ...string) Filter {
	set := slices.Clone(actions)
	return func(d, a string) bool {
		return d == domain && (len(set) == 0 || slices.Contains(set, a))
	}
}

// Everything is a Filter accepting every event.
func Everything(string, string) bool { return true }

// Or returns a Filter accepting what any of fs accepts.
func Or(fs ...Filter) Filter {
	return func(d, a string) bool {
		for _, f := range fs {
			if f(d, a) {
				return true
			}
		}
		return false
	}
}

// ProcessFunc is the signature of Inbox.Process, and what Middleware wraps.
type ProcessFunc func(ctx context.Context, d *Delivery) error

// Func returns an Inbox named name that accepts what accepts accepts
// (Everything when nil) and processes with fn.
//
//	audit := inbox.Func("audit", inbox.On("issue"), func(ctx context.Context, d *inbox.Delivery) error {
//		return d.Once(ctx, db, "", func(tx *gorm.DB) error { return tx.Create(&Audit{...}).Error })
//	})
func Func(name string, accepts Filter, fn ProcessFunc) Inbox {
	if accepts == nil {
		accepts = Everything
	}
	return &funcInbox{name: name, accepts: accepts, fn: fn}
}

type funcInbox struct {
	name    string
	accepts Filter
	fn      ProcessFunc
}

func (f *funcInbox) Name() string                       { return f.name }
func (f *funcInbox) Accepts(domain, action string) bool { return f.accepts(domain, action) }
func (f *funcInbox) Process(ctx context.Context, d *Delivery) error {
	if f.fn == nil {
		return Permanent(fmt.Errorf("inbox %s: Func was given a nil function", f.name))
	}
	return f.fn(ctx, d)
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// checkName validates an inbox name.
func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return &ConfigError{Field: "Inbox.Name", Reason: fmt.Sprintf("%q is not allowed: use 1-64 of a-z 0-9 _ . -, starting with a letter (it becomes part of task IDs)", name)}
	}
	return nil
}
