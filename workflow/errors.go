package workflow

import (
	"errors"
	"fmt"
)

// Sentinel errors of rule storage and the engine. ErrInvalidRule (a
// *ValidationError) is in problem.go.
var (
	// ErrRuleNotFound is returned (wrapped, naming the id) for a rule id
	// that is not stored.
	ErrRuleNotFound = errors.New("workflow: rule not found")

	// ErrInvalidConfig is returned (inside a *ConfigError) by constructors
	// given a configuration that cannot work.
	ErrInvalidConfig = errors.New("workflow: invalid configuration")
)

// ConfigError reports a configuration field that cannot work.
type ConfigError struct {
	Field  string // "RulesConfig.DB", "EngineConfig.Name"
	Reason string
}

func (e *ConfigError) Error() string        { return fmt.Sprintf("workflow: %s %s", e.Field, e.Reason) }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func notFound(id int64) error { return fmt.Errorf("%w: no rule has id %d", ErrRuleNotFound, id) }
