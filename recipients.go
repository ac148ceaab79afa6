package tidings

import (
	"context"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// recipientsOf turns InApp's recipients, an SQL query on the subject key
// or a function returning keys of any type, into notify's text keys.
func (c *Client) recipientsOf(in *InApp) (notify.RecipientsFunc, error) {
	if in.RecipientsFunc != nil {
		return func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
			keys, err := in.RecipientsFunc(ctx, db, ev)
			if err != nil {
				return nil, err
			}
			return keysText(keys), nil
		}, nil
	}
	if in.Recipients == "" {
		return nil, &ConfigError{Field: "InApp.Recipients", Reason: `is empty: give the query of who hears of an event ("SELECT owner_id FROM orders WHERE id = ?") or set RecipientsFunc`}
	}
	domains := make(map[string]*activity.Domain, len(c.cfg.Domains))
	for _, d := range c.cfg.Domains {
		domains[d.Name()] = d
	}
	query := in.Recipients
	return func(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
		key, err := subjectKey(domains[ev.Domain], ev.SubjectID)
		if err != nil {
			return nil, inbox.Permanent(err)
		}
		var keys []any
		rows, err := db.WithContext(ctx).Raw(query, key).Rows()
		if err != nil {
			return nil, fmt.Errorf("tidings: InApp.Recipients of %s#%s: %w", ev.Domain, ev.SubjectID, err)
		}
		defer rows.Close()
		cols, err := rows.Columns()
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return nil, err
			}
			keys = append(keys, vals[0])
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		return keysText(keys), nil
	}, nil
}

// subjectKey is the subject's key as its domain's key type declares it.
func subjectKey(d *activity.Domain, id string) (any, error) {
	if d == nil || d.Subject().KeyType != activity.KeyBigint {
		return id, nil
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("tidings: subject key %q of domain %s is not a bigint", id, d.Name())
	}
	return n, nil
}

// keysText writes keys as recipients are stored: as text, nil left out.
func keysText(keys []any) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		switch v := k.(type) {
		case nil:
		case string:
			out = append(out, v)
		case []byte:
			out = append(out, string(v))
		case [16]byte: // a uuid from pgx
			out = append(out, fmt.Sprintf("%x-%x-%x-%x-%x", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16]))
		case fmt.Stringer:
			out = append(out, v.String())
		default:
			out = append(out, fmt.Sprint(v))
		}
	}
	return out
}
