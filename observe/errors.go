package observe

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is returned (inside a *ConfigError) by constructors given
// a configuration that cannot work.
var ErrInvalidConfig = errors.New("observe: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string        { return fmt.Sprintf("observe: %s %s", e.Field, e.Reason) }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
