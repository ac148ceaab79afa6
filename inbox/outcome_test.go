package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// Every attempt ends in exactly one outcome; a held attempt is not a
// failure until it is the last one.
func TestOutcomeOf(t *testing.T) {
	held := inbox.RetryAfter(time.Minute, fmt.Errorf("slack breaker open: %w", inbox.ErrHeld))
	for _, c := range []struct {
		name       string
		attempt    int
		suppressed bool
		err        error
		want       inbox.Outcome
	}{
		{"success", 1, false, nil, inbox.OutcomeDone},
		{"nobody to tell", 1, true, nil, inbox.OutcomeSuppressed},
		{"failure", 1, false, errors.New("smtp: 451"), inbox.OutcomeRetried},
		{"held by a breaker", 1, false, held, inbox.OutcomeHeld},
		{"held on the last attempt", 3, false, held, inbox.OutcomeDead},
		{"handed back at a graceful stop", 1, false, fmt.Errorf("slack: %w", inbox.Stopped("waiting for the thread's turn", nil)), inbox.OutcomeHeld},
		{"permanent", 1, false, inbox.Permanent(errors.New("550 no such user")), inbox.OutcomeDead},
		{"last attempt", 3, false, errors.New("timeout"), inbox.OutcomeDead},
	} {
		d := &inbox.Delivery{Inbox: "email", Attempt: c.attempt, MaxAttempts: 3}
		if c.suppressed {
			d.Suppress()
		}
		if got := inbox.OutcomeOf(d, c.err); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// OnSend hooks wrap each send that happens, innermost last, and see its
// error; a send the ledger says happened is not wrapped again.
func TestOnSendWrapsSends(t *testing.T) {
	reset(t)
	_, issueID := newIssue(t)
	ev := record(t, testDB, issueID, "comment_added")
	var seen []string
	hook := func(tag string) inbox.SendHook {
		return func(ctx context.Context, recipient string) (context.Context, func(error)) {
			seen = append(seen, tag+" start "+recipient)
			return ctx, func(err error) { seen = append(seen, fmt.Sprintf("%s end %v", tag, err)) }
		}
	}
	d := &inbox.Delivery{Inbox: "hooks", Event: ev, Attempt: 1, MaxAttempts: 1, DB: testDB, Ledger: inbox.NewLedger(inbox.LedgerConfig{})}
	d.OnSend(hook("outer"))
	d.OnSend(hook("inner"))
	ctx := context.Background()
	boom := errors.New("boom")
	if _, err := d.Send(ctx, "ana", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Send(ctx, "ana", func(context.Context) error { return nil }); err != nil { // sent before: skipped
		t.Fatal(err)
	}
	if _, err := d.Send(ctx, "bo", func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	want := fmt.Sprint([]string{"outer start ana", "inner start ana", "inner end <nil>", "outer end <nil>",
		"outer start bo", "inner start bo", "inner end boom", "outer end boom"})
	if got := fmt.Sprint(seen); got != want {
		t.Fatalf("hooks saw\n%s\nwant\n%s", got, want)
	}
}
