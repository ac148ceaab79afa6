package activity

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
)

// Cursor is an opaque position in a feed: the (occurred_at, id) of the last
// event of a page. The zero Cursor is the head of the feed. Pages are found
// by keyset (never OFFSET), so a page deep in a feed costs what the first does.
type Cursor string

const cursorVersion = 1

func newCursor(e Event) Cursor {
	var b [17]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(e.OccurredAt.UnixMicro()))
	binary.BigEndian.PutUint64(b[9:17], uint64(e.ID))
	return Cursor(base64.RawURLEncoding.EncodeToString(b[:]))
}

func (c Cursor) decode() (at time.Time, id int64, err error) {
	b, err := base64.RawURLEncoding.DecodeString(string(c))
	if err != nil || len(b) != 17 || b[0] != cursorVersion {
		return time.Time{}, 0, fmt.Errorf("%w: %.40q was not produced by a feed page's Next", ErrInvalidCursor, string(c))
	}
	at = time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9])))
	id = int64(binary.BigEndian.Uint64(b[9:17]))
	return at, id, nil
}

// String returns the cursor's opaque text, safe in a URL query.
func (c Cursor) String() string { return string(c) }
