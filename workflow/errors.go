package workflow

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Sentinel errors of rule storage and the engine. ErrInvalidRule (a
// *ValidationError) is in problem.go.
var (
	// ErrRuleNotFound is returned (wrapped, naming the id) for a rule id
	// that is not stored.
	ErrRuleNotFound = errors.New("workflow: rule not found")

	// ErrInvalidConfig is returned (inside a *ConfigError) by constructors
	// given a configuration that cannot work.
	ErrInvalidConfig = errors.New("workflow: invalid configuration")

	// ErrConflict is returned (inside a *ConflictError) by Update when
	// the rule was saved by someone else since the caller read it.
	ErrConflict = errors.New("workflow: rule changed since it was read")

	// ErrKeyTaken is returned (wrapped) by Create for a Rule.Key another
	// rule has; Ensure is the way to save a rule by its key.
	ErrKeyTaken = errors.New("workflow: rule key taken")
)

// ConflictError reports an edit of a rule saved by someone else meanwhile.
type ConflictError struct {
	ID        int64
	Version   int64     // the version the edit started from
	Current   int64     // the stored version
	UpdatedBy string    // who saved the stored version
	UpdatedAt time.Time // and when
}

func (e *ConflictError) Error() string {
	if e.Version == 0 {
		return fmt.Sprintf("workflow: rule %d: the edit names no version; give the Version you read (the rule is at version %d)", e.ID, e.Current)
	}
	return fmt.Sprintf("workflow: rule %d was changed by %s at %s (version %d) since you read version %d; reload it and apply your edit again",
		e.ID, e.UpdatedBy, e.UpdatedAt.UTC().Format(time.RFC3339), e.Current, e.Version)
}
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ConfigError reports a configuration field that cannot work.
type ConfigError struct {
	Field  string // "RulesConfig.DB", "EngineConfig.Name"
	Reason string
}

func (e *ConfigError) Error() string        { return fmt.Sprintf("workflow: %s %s", e.Field, e.Reason) }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func notFound(id int64) error { return fmt.Errorf("%w: no rule has id %d", ErrRuleNotFound, id) }
