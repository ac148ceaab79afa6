package inbox

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Profile is what channels need to know about a recipient to batch and
// word their messages: the language they read and the zone of their clock.
type Profile struct {
	Locale   string         // BCP 47 ("de", "en-GB"); "" reads the fallback locale
	Location *time.Location // nil is UTC
}

// ProfilesFunc returns the profiles of recipients (the app's keys), in one
// query; a recipient left out gets the zero Profile. An error is retried.
type ProfilesFunc func(ctx context.Context, db *gorm.DB, recipients []string) (map[string]Profile, error)

// ProfilesOf calls f, or returns no profiles when f is nil.
func ProfilesOf(ctx context.Context, db *gorm.DB, f ProfilesFunc, recipients []string) (map[string]Profile, error) {
	if f == nil || len(recipients) == 0 {
		return map[string]Profile{}, nil
	}
	m, err := f(ctx, db, recipients)
	if m == nil {
		m = map[string]Profile{}
	}
	return m, err
}
