package inbox

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tidingsdev/tidings/activity"
)

// The error asynq gets for a failed job (and stores in Redis) says which
// delivery failed and what kind of failure it was, never the error's text;
// the worker's retry decisions see through it as through the error itself.
func TestRedactedJobErrors(t *testing.T) {
	const secret = "550 <ana@example.com> unknown, Ana Lima"
	ev := activity.EventRef{Domain: "issue", ID: 17}
	base := errors.New(secret)
	for _, tc := range []struct {
		name  string
		err   error
		kind  string // in the redacted text
		check func(error) bool
	}{
		{"plain", base, "failed", func(e error) bool { return !errors.Is(e, asynq.SkipRetry) }},
		{"permanent", Permanent(base), "permanent", func(e error) bool { return errors.Is(e, asynq.SkipRetry) && IsPermanent(e) }},
		{"revoked", fmt.Errorf("%s: %w", secret, asynq.RevokeTask), "failed", func(e error) bool { return errors.Is(e, asynq.RevokeTask) }},
		{"retry after", RetryAfter(30*time.Second, base), "retry after 30s", func(e error) bool { d, ok := retryAfter(e); return ok && d == 30*time.Second }},
		{"window", Permanent(&WindowError{Window: time.Hour, Failures: 3, Err: base}), "gave up after 3 failures (retry window 1h0m0s)", func(e error) bool { return errors.Is(e, asynq.SkipRetry) }},
		{"panic", &PanicError{Inbox: "mail", Value: secret}, "panic in Process", func(e error) bool { return errors.Is(e, ErrPanic) }},
		{"unreachable", Unreachable("https://ana-lima.example.com", base), "its sink is unreachable", func(e error) bool { return errors.Is(e, ErrSinkDown) }},
		{"typed", RetryAfter(time.Minute, fmt.Errorf("send: %w", &typedErr{secret})), "*inbox.typedErr, retry after 1m0s", func(e error) bool { var x *typedErr; return errors.As(e, &x) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := redact("mail", ev, tc.err)
			text := r.Error()
			if strings.Contains(text, "ana") || strings.Contains(text, "Ana") || strings.Contains(text, "550") {
				t.Errorf("redacted text %q holds the error's text", text)
			}
			if !strings.Contains(text, "inbox mail, issue#17: ") || !strings.Contains(text, tc.kind) {
				t.Errorf("redacted text %q; want the inbox, the event and %q", text, tc.kind)
			}
			if !tc.check(r) {
				t.Errorf("errors.Is/As do not see through the redaction of %v", tc.err)
			}
			if fullError(r) != tc.err.Error() {
				t.Errorf("fullError %q, want %q", fullError(r), tc.err.Error())
			}
			if redact("mail", ev, r) != r {
				t.Error("redacting twice wraps twice")
			}
		})
	}
	task := redactTask("app:sync", Permanent(base))
	if text := task.Error(); strings.Contains(text, "Ana") || !strings.Contains(text, "task app:sync: failed, permanent") || !errors.Is(task, asynq.SkipRetry) {
		t.Errorf("a task's redacted error %q (SkipRetry %v); want its type and kind only", text, errors.Is(task, asynq.SkipRetry))
	}
	if redact("mail", ev, nil) != nil || redactTask("app:sync", nil) != nil {
		t.Error("redacting nil is not nil")
	}
}

type typedErr struct{ s string }

func (e *typedErr) Error() string { return e.s }
