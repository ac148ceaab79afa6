package notify

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Counts are a recipient's badge numbers, read in one query. Archived
// notifications count in neither.
type Counts struct {
	Unread int64 `json:"unread"`
	Unseen int64 `json:"unseen"`
	// Head is the newest Seq of the recipient's stream in the context's
	// tenant (0 before any notification).
	Head int64 `json:"head"`
}

// CountsOf returns recipient's unread and unseen counts and stream head,
// in the context's tenant.
func CountsOf(ctx context.Context, db *gorm.DB, recipient string) (Counts, error) {
	if db == nil {
		return Counts{}, ErrNilDB
	}
	var c Counts
	cond, targs := scope(ctx)
	hcond, hargs := headScope(ctx)
	// Unseen ones are unread too: one pass over the unread partial index.
	// Head is the position of the recipient's stream in ctx's tenant (max:
	// one row by the key, whatever the tidings_rlsonly build leaves of
	// the condition).
	args := append(append(append([]any{recipient}, hargs...), recipient), targs...)
	err := db.WithContext(ctx).Raw(`SELECT
  count(*) AS unread,
  count(*) FILTER (WHERE seen_at IS NULL) AS unseen,
  coalesce((SELECT max(seq) FROM notification_heads WHERE recipient = ? AND `+hcond+`), 0) AS head
FROM notifications WHERE recipient = ? AND read_at IS NULL AND archived_at IS NULL AND `+cond, args...).Scan(&c).Error
	if err != nil {
		return Counts{}, fmt.Errorf("notify: counts: %w", err)
	}
	return c, nil
}

// MaxSince caps how many notifications Since returns at once.
const MaxSince = 500

// Since returns recipient's notifications with Seq above after, oldest
// first, at most limit (1 to MaxSince; 0 means 100), archived ones
// included (a stream tells of every arrival), in the context's tenant.
// Each (tenant, recipient) is a stream of its own, numbered from 1, whose
// Seq numbers commit in order, so a reader that saw Seq n and asks for
// what came after n misses nothing, however deliveries interleave.
func Since(ctx context.Context, db *gorm.DB, recipient string, after int64, limit int) ([]Notification, error) {
	if db == nil {
		return nil, ErrNilDB
	}
	switch {
	case recipient == "":
		return nil, fmt.Errorf("%w: the recipient is empty", ErrInvalidQuery)
	case after < 0:
		return nil, fmt.Errorf("%w: after is %d; allowed: 0 or a Seq", ErrInvalidQuery, after)
	case limit == 0:
		limit = 100
	case limit < 0 || limit > MaxSince:
		return nil, fmt.Errorf("%w: limit is %d; allowed: 1 to %d (0 means 100)", ErrInvalidQuery, limit, MaxSince)
	}
	cond, targs := scope(ctx)
	rows, err := db.WithContext(ctx).Raw(`SELECT `+columns+` FROM notifications WHERE recipient = ? AND seq > ? AND `+cond+` ORDER BY seq LIMIT ?`,
		append(append([]any{recipient, after}, targs...), limit)...).Rows()
	if err != nil {
		return nil, fmt.Errorf("notify: since: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		if err := scanNotification(rows, &n); err != nil {
			return nil, fmt.Errorf("notify: since: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Get returns recipient's notification id, or ErrNotFound (also for
// another recipient's).
func Get(ctx context.Context, db *gorm.DB, recipient string, id int64) (Notification, error) {
	if db == nil {
		return Notification{}, ErrNilDB
	}
	cond, targs := scope(ctx)
	rows, err := db.WithContext(ctx).Raw(`SELECT `+columns+` FROM notifications WHERE recipient = ? AND id = ? AND `+cond, append([]any{recipient, id}, targs...)...).Rows()
	if err != nil {
		return Notification{}, fmt.Errorf("notify: get: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Notification{}, fmt.Errorf("notify: get: %w", err)
		}
		return Notification{}, fmt.Errorf("%w: recipient %q has no notification %d", ErrNotFound, recipient, id)
	}
	var n Notification
	if err := scanNotification(rows, &n); err != nil {
		return Notification{}, fmt.Errorf("notify: get: %w", err)
	}
	return n, nil
}

// MarkUnread marks notification id of recipient unread again. It reports
// whether it changed anything.
func MarkUnread(ctx context.Context, db *gorm.DB, recipient string, id int64) (bool, error) {
	return change(ctx, db, "mark unread", `UPDATE notifications SET read_at = NULL WHERE id = ? AND recipient = ? AND read_at IS NOT NULL`, id, recipient)
}

// Archive moves notification id of recipient out of the list and the
// counts (and marks it seen); Unarchive brings it back. Each reports
// whether it changed anything.
func Archive(ctx context.Context, db *gorm.DB, recipient string, id int64) (bool, error) {
	return change(ctx, db, "archive", `UPDATE notifications SET archived_at = now(), seen_at = coalesce(seen_at, now())
WHERE id = ? AND recipient = ? AND archived_at IS NULL`, id, recipient)
}

// Unarchive undoes Archive.
func Unarchive(ctx context.Context, db *gorm.DB, recipient string, id int64) (bool, error) {
	return change(ctx, db, "unarchive", `UPDATE notifications SET archived_at = NULL WHERE id = ? AND recipient = ? AND archived_at IS NOT NULL`, id, recipient)
}

// Delete deletes notification id of recipient for good. The deliveries
// ledger still remembers it, so a retried job does not bring it back. It
// reports whether there was one.
func Delete(ctx context.Context, db *gorm.DB, recipient string, id int64) (bool, error) {
	return change(ctx, db, "delete", `DELETE FROM notifications WHERE id = ? AND recipient = ?`, id, recipient)
}

func change(ctx context.Context, db *gorm.DB, what, sql string, id int64, recipient string) (bool, error) {
	if db == nil {
		return false, ErrNilDB
	}
	cond, targs := scope(ctx)
	res := db.WithContext(ctx).Exec(sql+" AND "+cond, append([]any{id, recipient}, targs...)...)
	if res.Error != nil {
		return false, fmt.Errorf("notify: %s: %w", what, res.Error)
	}
	return res.RowsAffected == 1, nil
}
