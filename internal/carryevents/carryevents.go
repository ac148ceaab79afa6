// Package carryevents holds the bench baseline of reference-only jobs:
// the payloads the relay made before jobs carried only references, each
// event JSON-encoded after the job's header line, and used by the worker
// without loading it.
//
// Jobs in Redis carry references (domain, event id, action): Redis holds
// nothing personal, so erasure has one place to reach. cmd/bench measures
// what that costs the fan-out against these payloads, in the same run. It
// is not a mode for apps: only code of this module can import the package,
// and nothing but the bench sets it.
//
// The option rides on a context: a relay whose RelayOnce (or Run) context
// says so, a backfill whose Run context says so, and a worker whose Start
// context says so carry and use events as before.
package carryevents

import "context"

type key struct{}

// With returns ctx with the baseline on.
func With(ctx context.Context) context.Context { return context.WithValue(ctx, key{}, true) }

// On reports whether ctx has the baseline on.
func On(ctx context.Context) bool {
	on, _ := ctx.Value(key{}).(bool)
	return on
}

// MaxEventBytes is the largest event (JSON-encoded) the baseline carried;
// a bigger one was loaded by the worker (the relay's default of then).
const MaxEventBytes = 8 << 10
