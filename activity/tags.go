package activity

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
)

// Limits on tags.
const (
	// MaxTags caps the tags of one event.
	MaxTags = 16
	// MaxTagValueBytes caps one tag's value.
	MaxTagValueBytes = 512
)

var tagKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// WithTags returns a context whose events carry tags, added to (and
// overriding, key by key) the tags its metadata has already. A maintenance
// script sets them once:
//
//	ctx = activity.WithActor(ctx, activity.System("console:ana"))
//	ctx = activity.WithMetadata(ctx, activity.Metadata{Source: "console", CorrelationID: "SUP-1234"})
//	ctx = activity.WithTags(ctx, map[string]string{"ticket": "https://support.example.com/SUP-1234", "operator": "ana"})
func WithTags(ctx context.Context, tags map[string]string) context.Context {
	md := MetadataFrom(ctx)
	merged := maps.Clone(md.Tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	md.Tags = merged
	return WithMetadata(ctx, md)
}

// CheckTags returns nil for tags that may be stored, or an *OptionError
// saying which tag is wrong and what is allowed.
func CheckTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return &OptionError{Option: "Metadata.Tags", Reason: fmt.Sprintf("has %d tags; at most %d are allowed", len(tags), MaxTags)}
	}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		v := tags[k]
		switch {
		case !tagKeyRE.MatchString(k):
			return &OptionError{Option: "Metadata.Tags", Reason: fmt.Sprintf("key %.80q is not allowed: use 1-64 of a-z 0-9 _ . -, starting with a letter (like \"ticket\")", k)}
		case len(v) > MaxTagValueBytes:
			return &OptionError{Option: "Metadata.Tags", Reason: fmt.Sprintf("%s is %d bytes; at most %d are allowed", k, len(v), MaxTagValueBytes)}
		case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
			return &OptionError{Option: "Metadata.Tags", Reason: fmt.Sprintf("%s is not valid UTF-8 text (or holds a NUL byte)", k)}
		}
	}
	return nil
}

// tagsArg returns the tags of a RecordEvent call (the context's, then the
// Meta options'), as the jsonb argument: NULL when there are none.
func tagsArg(ctx context.Context, opts []Option) (sql.NullString, error) {
	_, arg, err := callTags(ctx, opts)
	return arg, err
}

// callTags returns the tags of a RecordEvent call (the context's, then the
// Meta options'; the context's own map when no option adds any) and the
// jsonb argument that stores them.
func callTags(ctx context.Context, opts []Option) (map[string]string, sql.NullString, error) {
	tags := MetadataFrom(ctx).Tags
	for _, o := range opts {
		if m, ok := o.(metaOption); ok && len(m.Tags) > 0 {
			tags = maps.Clone(tags)
			if tags == nil {
				tags = map[string]string{}
			}
			maps.Copy(tags, m.Tags)
		}
	}
	if len(tags) == 0 {
		return nil, sql.NullString{}, nil
	}
	if err := CheckTags(tags); err != nil {
		return nil, sql.NullString{}, err
	}
	b, err := json.Marshal(tags)
	if err != nil {
		return nil, sql.NullString{}, &OptionError{Option: "Metadata.Tags", Reason: "cannot be encoded: " + err.Error()}
	}
	return tags, sql.NullString{String: string(b), Valid: true}, nil
}

// tagThrottled stores the tags of an event a throttled call inserted (the
// throttle function takes none): one more statement, only for tagged
// throttled calls.
func (d *Domain) tagThrottled(ctx context.Context, db *gorm.DB, e *Event, tags sql.NullString) error {
	if err := db.Session(&gorm.Session{NewDB: true, Context: ctx}).Exec(`UPDATE `+d.table+` SET tags = ?::jsonb WHERE id = ? AND occurred_at = ?`, tags, e.ID, e.OccurredAt).Error; err != nil {
		return err
	}
	return decodeTags([]byte(tags.String), &e.Tags)
}

func decodeTags(b []byte, dst *map[string]string) error {
	if len(b) == 0 {
		*dst = nil
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("activity: decode tags: %w", err)
	}
	if len(m) == 0 {
		m = nil
	}
	*dst = m
	return nil
}
