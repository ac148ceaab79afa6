package activity

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Each is returned wrapped in a typed error that carries the
// details; test with errors.Is, read the details with errors.As.
var (
	// ErrNilDB is returned when a nil *gorm.DB is passed.
	ErrNilDB = errors.New("activity: nil *gorm.DB: pass the pool or the transaction to record in")

	// ErrInvalidDomain is returned by NewDomain for a declaration that cannot
	// be served (bad name, bad table, duplicate or invalid action...).
	ErrInvalidDomain = errors.New("activity: invalid domain declaration")

	// ErrUnknownAction is returned (inside an *UnknownActionError) when an
	// action is not among the domain's supported actions.
	ErrUnknownAction = errors.New("activity: unknown action")

	// ErrInvalidSubject is returned (inside a *SubjectError) when the subject
	// key is zero, missing, or of the wrong kind for the domain.
	ErrInvalidSubject = errors.New("activity: invalid subject")

	// ErrInvalidPerson is returned (inside a *PersonError) for a Person
	// whose values cannot be stored or are too short to match safely.
	ErrInvalidPerson = errors.New("activity: invalid person")

	// ErrInvalidRef is returned (inside a *RefError) when an actor or record
	// reference lacks a type or an id, or cannot be derived from a model.
	ErrInvalidRef = errors.New("activity: invalid reference")

	// ErrNoActor is returned when neither an Actor option nor the context
	// names who acted.
	ErrNoActor = errors.New("activity: no actor: pass activity.Actor(...) or set one on the context with activity.WithActor; for work nobody did, use activity.Actor(activity.System(\"system\"))")

	// ErrInvalidExtra is returned (inside an *ExtraError) when extra cannot be
	// encoded as a JSON object, is larger than the domain's limit, holds
	// what PostgreSQL's jsonb refuses (NUL, an unpaired surrogate escape, a
	// number outside numeric's range) or nests deeper than MaxExtraDepth.
	ErrInvalidExtra = errors.New("activity: invalid extra")

	// ErrInvalidOption is returned (inside an *OptionError) for an option
	// with a value that is not allowed, such as a negative throttle window.
	ErrInvalidOption = errors.New("activity: invalid option")

	// ErrThrottleIsolation is returned when a throttled record is attempted
	// inside a transaction whose isolation level is above READ COMMITTED:
	// there the statement that looks for the recent event cannot see a
	// concurrent writer's commit, so throttling could not be race-free.
	ErrThrottleIsolation = errors.New("activity: throttled recording needs READ COMMITTED isolation; the transaction runs at a stricter level, where a concurrent repeat could not be seen")

	// ErrCausationDepth is returned when an event would extend a causation
	// chain (events recorded while handling events) past the domain's
	// MaxDepth: a runaway loop such as a workflow that triggers itself.
	ErrCausationDepth = errors.New("activity: causation chain too deep")

	// ErrNoPartition is returned (inside a *PartitionError) when an event's
	// time falls in no partition of a partitioned domain's table.
	ErrNoPartition = errors.New("activity: no partition for the event's time")

	// ErrEventNotFound is returned when no event has the requested ID.
	ErrEventNotFound = errors.New("activity: event not found")

	// ErrInvalidCursor is returned when a feed cursor was not produced by
	// this package (or by another query shape).
	ErrInvalidCursor = errors.New("activity: invalid feed cursor")

	// ErrInvalidQuery is returned (inside a *QueryError) for a feed or
	// history query with conflicting or out-of-range fields.
	ErrInvalidQuery = errors.New("activity: invalid query")
)

// DomainError reports a bad domain declaration.
type DomainError struct {
	Domain string
	Field  string // Name, Table, Subject.Table, Actions[3] ...
	Reason string
}

func (e *DomainError) Error() string {
	return fmt.Sprintf("activity: domain %q: %s %s", e.Domain, e.Field, e.Reason)
}
func (e *DomainError) Is(target error) bool { return target == ErrInvalidDomain }

// UnknownActionError reports an action a domain does not support.
type UnknownActionError struct {
	Domain     string
	Action     string
	Suggestion string   // the nearest supported action, "" when none is close
	Supported  []string // the domain's supported actions
}

func (e *UnknownActionError) Error() string {
	msg := fmt.Sprintf("activity: unknown action %q for domain %s", e.Action, e.Domain)
	if e.Suggestion != "" {
		return msg + fmt.Sprintf("; did you mean %q?", e.Suggestion)
	}
	return msg + "; supported: " + strings.Join(e.Supported, ", ")
}
func (e *UnknownActionError) Is(target error) bool { return target == ErrUnknownAction }

// SubjectError reports a subject key that cannot be recorded or queried.
type SubjectError struct {
	Domain string
	Value  any
	Reason string
}

func (e *SubjectError) Error() string {
	return fmt.Sprintf("activity: subject %#v for domain %s %s", e.Value, e.Domain, e.Reason)
}
func (e *SubjectError) Is(target error) bool { return target == ErrInvalidSubject }

// ExtraError reports extra data that cannot be stored.
type ExtraError struct {
	Size   int // encoded size in bytes, when it was encoded
	Limit  int
	Reason string
	Err    error // the JSON encoder's error, when there was one
}

func (e *ExtraError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("activity: extra %s: %v", e.Reason, e.Err)
	}
	return "activity: extra " + e.Reason
}
func (e *ExtraError) Is(target error) bool { return target == ErrInvalidExtra }
func (e *ExtraError) Unwrap() error        { return e.Err }

// OptionError reports an option whose value is not allowed.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string        { return fmt.Sprintf("activity: %s: %s", e.Option, e.Reason) }
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// DepthError reports a causation chain that reached the domain's limit.
type DepthError struct {
	Domain string
	Action string
	Cause  EventRef
	Depth  int // the depth the new event would have had
	Max    int
}

func (e *DepthError) Error() string {
	return fmt.Sprintf("activity: not recording %s %s: it was caused by %s and would be at causation depth %d, over the limit of %d (a loop of events recording events?)",
		e.Domain, e.Action, e.Cause, e.Depth, e.Max)
}
func (e *DepthError) Is(target error) bool { return target == ErrCausationDepth }

// QueryError reports a feed or history query that cannot be run.
type QueryError struct {
	Field  string
	Reason string
}

func (e *QueryError) Error() string        { return fmt.Sprintf("activity: query %s %s", e.Field, e.Reason) }
func (e *QueryError) Is(target error) bool { return target == ErrInvalidQuery }

// IsolationError reports a throttled record attempted in a transaction
// whose isolation level is stricter than READ COMMITTED. Nothing was
// written and the transaction is not aborted.
// errors.Is(err, ErrThrottleIsolation) holds for it.
type IsolationError struct {
	Level string // "repeatable read" or "serializable"; "" when not known
}

func (e *IsolationError) Error() string {
	level := "a stricter level"
	if e.Level != "" {
		level = strings.ToUpper(e.Level)
	}
	return "activity: throttled recording needs READ COMMITTED isolation; the transaction runs at " + level +
		", where the statement that looks for a recent repeat could not see a concurrent writer's commit"
}
func (e *IsolationError) Is(target error) bool { return target == ErrThrottleIsolation }
