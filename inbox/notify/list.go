package notify

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Query selects a page of one recipient's notifications, newest first.
type Query struct {
	Recipient  string // required
	UnreadOnly bool
	// Archived lists the archived notifications instead of the inbox.
	Archived bool
	// After is the previous page's Next; empty for the first page.
	After Cursor
	// Limit is the page size. Default 20, at most 200.
	Limit int
}

// Page is one page of notifications.
type Page struct {
	Notifications []Notification
	// Next continues after this page; empty on the last page.
	Next Cursor
}

// Cursor is an opaque position in a recipient's list (keyset pagination:
// created_at and id, never an offset).
type Cursor string

func newCursor(n Notification) Cursor {
	return Cursor(base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(n.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(n.ID, 10))))
}

func (c Cursor) decode() (time.Time, int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(string(c))
	if err == nil {
		if at, id, ok := strings.Cut(string(b), "."); ok {
			us, err1 := strconv.ParseInt(at, 10, 64)
			n, err2 := strconv.ParseInt(id, 10, 64)
			if err1 == nil && err2 == nil {
				return time.UnixMicro(us), n, nil
			}
		}
	}
	return time.Time{}, 0, fmt.Errorf("%w: %.40q", ErrInvalidCursor, string(c))
}

// List returns a page of q.Recipient's notifications, newest first.
func List(ctx context.Context, db *gorm.DB, q Query) (Page, error) {
	if db == nil {
		return Page{}, ErrNilDB
	}
	if q.Recipient == "" {
		return Page{}, fmt.Errorf("%w: Query.Recipient is empty", ErrInvalidQuery)
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = 20
	case limit < 0 || limit > 200:
		return Page{}, fmt.Errorf("%w: Limit is %d; allowed: 1 to 200 (0 means 20)", ErrInvalidQuery, q.Limit)
	}
	where := "recipient = ? AND archived_at IS NULL"
	if q.Archived {
		where = "recipient = ? AND archived_at IS NOT NULL"
	}
	args := []any{q.Recipient}
	cond, targs := scope(ctx)
	where += " AND " + cond
	args = append(args, targs...)
	if q.UnreadOnly {
		where += " AND read_at IS NULL"
	}
	if q.After != "" {
		at, id, err := q.After.decode()
		if err != nil {
			return Page{}, err
		}
		where += " AND (created_at, id) < (?, ?)"
		args = append(args, at, id)
	}
	args = append(args, limit+1)
	rows, err := db.WithContext(ctx).Raw(`SELECT `+columns+` FROM notifications WHERE `+where+` ORDER BY created_at DESC, id DESC LIMIT ?`, args...).Rows()
	if err != nil {
		return Page{}, fmt.Errorf("notify: list: %w", err)
	}
	defer rows.Close()
	var p Page
	for rows.Next() {
		var n Notification
		if err := scanNotification(rows, &n); err != nil {
			return Page{}, fmt.Errorf("notify: list: %w", err)
		}
		p.Notifications = append(p.Notifications, n)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("notify: list: %w", err)
	}
	if len(p.Notifications) > limit {
		p.Notifications = p.Notifications[:limit]
		p.Next = newCursor(p.Notifications[limit-1])
	}
	return p, nil
}

// UnreadCount returns how many of recipient's notifications are unread
// (archived ones do not count).
func UnreadCount(ctx context.Context, db *gorm.DB, recipient string) (int64, error) {
	return count(ctx, db, recipient, "read_at IS NULL AND archived_at IS NULL")
}

// UnseenCount returns how many arrived since recipient's last MarkSeen
// (the badge).
func UnseenCount(ctx context.Context, db *gorm.DB, recipient string) (int64, error) {
	return count(ctx, db, recipient, "seen_at IS NULL AND read_at IS NULL AND archived_at IS NULL")
}

func count(ctx context.Context, db *gorm.DB, recipient, cond string) (int64, error) {
	if db == nil {
		return 0, ErrNilDB
	}
	var n int64
	tcond, targs := scope(ctx)
	if err := db.WithContext(ctx).Raw(`SELECT count(*) FROM notifications WHERE recipient = ? AND `+cond+` AND `+tcond, append([]any{recipient}, targs...)...).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("notify: count: %w", err)
	}
	return n, nil
}

// MarkRead marks notification id read, if it is recipient's (a user can
// only mark their own). It reports whether it changed anything.
func MarkRead(ctx context.Context, db *gorm.DB, recipient string, id int64) (bool, error) {
	if db == nil {
		return false, ErrNilDB
	}
	cond, targs := scope(ctx)
	res := db.WithContext(ctx).Exec(`UPDATE notifications SET read_at = now(), seen_at = coalesce(seen_at, now())
WHERE id = ? AND recipient = ? AND read_at IS NULL AND `+cond, append([]any{id, recipient}, targs...)...)
	if res.Error != nil {
		return false, fmt.Errorf("notify: mark read: %w", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// MarkAllRead marks every unread notification of recipient read and
// returns how many there were.
func MarkAllRead(ctx context.Context, db *gorm.DB, recipient string) (int64, error) {
	if db == nil {
		return 0, ErrNilDB
	}
	cond, targs := scope(ctx)
	res := db.WithContext(ctx).Exec(`UPDATE notifications SET read_at = now(), seen_at = coalesce(seen_at, now())
WHERE recipient = ? AND read_at IS NULL AND `+cond, append([]any{recipient}, targs...)...)
	if res.Error != nil {
		return 0, fmt.Errorf("notify: mark all read: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// MarkSeen marks every notification of recipient seen (the list or the
// badge was shown), without reading them.
func MarkSeen(ctx context.Context, db *gorm.DB, recipient string) (int64, error) {
	if db == nil {
		return 0, ErrNilDB
	}
	cond, targs := scope(ctx)
	res := db.WithContext(ctx).Exec(`UPDATE notifications SET seen_at = now() WHERE recipient = ? AND seen_at IS NULL AND `+cond, append([]any{recipient}, targs...)...)
	if res.Error != nil {
		return 0, fmt.Errorf("notify: mark seen: %w", res.Error)
	}
	return res.RowsAffected, nil
}
