package inbox

import (
	"errors"
	"fmt"
	"testing"
)

// riding keeps a sink's error without unwrapping to it, as the rule
// engine does with a permanent error riding along a retried job.
type riding struct {
	msg   string
	sinks []error
}

func (r riding) Error() string       { return r.msg }
func (r riding) SinkErrors() []error { return r.sinks }

// A job delivering to several sinks names each in its error: each is
// reported to its own breaker, the first error of each sink, including a
// refusal that rides along without making the job permanent.
func TestSinkErrorsNamesEachSink(t *testing.T) {
	down := Unreachable("https://a.example", errors.New("connection refused"))
	mis := Misconfigured("https://b.example", "the receiver refuses our requests (HTTP 401)", errors.New("status 401"))
	err := errors.Join(fmt.Errorf("rule 1: %w", down), riding{msg: "rule 2: status 401", sinks: []error{mis}},
		RetryAfter(0, Unreachable("https://a.example", errors.New("again"))), errors.New("rule 4: status 500"))
	got := sinkErrors(err)
	if len(got) != 2 || got[0] != down || got[1] != mis {
		t.Fatalf("sinkErrors %v; want the first of each sink: %v, %v", got, down, mis)
	}
	if IsPermanent(err) {
		t.Error("the riding refusal made the job permanent")
	}
	if got := sinkErrors(errors.New("plain")); len(got) != 0 {
		t.Errorf("sinkErrors of a plain error: %v", got)
	}
}
