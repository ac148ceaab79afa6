package email

import (
	"fmt"
	"time"
)

// Period is the length of a digest period, on the recipient's clock.
type Period int

const (
	// Daily periods run from midnight to midnight in the recipient's time
	// zone (23 or 25 hours on the days clocks change). The default.
	Daily Period = iota
	// Hourly periods run from one full hour of the recipient's clock to
	// the next (for zones offset by half an hour, from :30 to :30 UTC).
	Hourly
)

func (p Period) String() string {
	switch p {
	case Daily:
		return "daily"
	case Hourly:
		return "hourly"
	}
	return fmt.Sprintf("Period(%d)", int(p))
}

// Start returns the start of the period holding t, in loc.
func (p Period) Start(t time.Time, loc *time.Location) time.Time {
	local := t.In(loc)
	if p == Hourly {
		into := time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
		return local.Add(-into)
	}
	y, m, d := local.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// Next returns the start of the period after the one starting at start,
// which is also that one's end.
func (p Period) Next(start time.Time, loc *time.Location) time.Time {
	if p == Hourly {
		return start.Add(time.Hour)
	}
	y, m, d := start.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}
