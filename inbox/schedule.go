package inbox

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Every says how a batch window closes (see Schedule).
type Every int

// How batch windows close.
const (
	// Window closes Schedule.Window after the window's first event.
	Window Every = iota + 1
	// Hourly closes at the next full hour of the recipient's clock.
	Hourly
	// Daily closes at Schedule.At on the recipient's clock, the first
	// time that comes after the window opened.
	Daily
	// Weekly closes at Schedule.At on Schedule.Weekday, recipient's clock.
	Weekly
)

// Schedule is when a batch window closes: a fixed window from its first
// event, or a time on the recipient's clock (hourly, daily at a time,
// weekly on a day at a time). Local times are wall-clock times in the
// recipient's zone, so "daily at 08:00 Europe/Berlin" stays at 08:00 when
// the clocks change (23 or 25 hours apart).
type Schedule struct {
	Every   Every
	Window  time.Duration // Window: the window's length
	At      time.Duration // Daily, Weekly: time of day, from local midnight
	Weekday time.Weekday  // Weekly
}

// FixedWindow closes d after the first event.
func FixedWindow(d time.Duration) Schedule { return Schedule{Every: Window, Window: d} }

// EveryHour closes at the next full hour.
func EveryHour() Schedule { return Schedule{Every: Hourly} }

// DailyAt closes every day at hour:minute, local time.
func DailyAt(hour, minute int) Schedule {
	return Schedule{Every: Daily, At: time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute}
}

// WeeklyAt closes every week on day at hour:minute, local time.
func WeeklyAt(day time.Weekday, hour, minute int) Schedule {
	return Schedule{Every: Weekly, Weekday: day, At: time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute}
}

// maxWindow caps a fixed window.
const maxWindow = 31 * 24 * time.Hour

// Check reports a schedule that cannot close.
func (s Schedule) Check() error {
	bad := func(reason string) error { return &ConfigError{Field: "Schedule", Reason: reason} }
	switch s.Every {
	case Window:
		if s.Window <= 0 || s.Window > maxWindow {
			return bad(fmt.Sprintf("window %v is out of range: use more than 0 and at most %v", s.Window, maxWindow))
		}
	case Hourly:
	case Daily, Weekly:
		if s.At < 0 || s.At >= 24*time.Hour || s.At%time.Minute != 0 {
			return bad(fmt.Sprintf("time of day %v is out of range: use whole minutes from 00:00 to 23:59", s.At))
		}
		if s.Every == Weekly && (s.Weekday < time.Sunday || s.Weekday > time.Saturday) {
			return bad(fmt.Sprintf("weekday %d is not a time.Weekday", int(s.Weekday)))
		}
	default:
		return bad(fmt.Sprintf("Every %d is not inbox.Window, Hourly, Daily or Weekly", int(s.Every)))
	}
	return nil
}

// Close returns when a window opened at opened closes, in loc (UTC when
// nil): always after opened.
func (s Schedule) Close(opened time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	local := opened.In(loc)
	switch s.Every {
	case Window:
		return opened.Add(s.Window)
	case Hourly:
		into := time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second + time.Duration(local.Nanosecond())
		return local.Add(-into).Add(time.Hour)
	case Daily, Weekly:
		y, m, d := local.Date()
		h, mi := int(s.At/time.Hour), int(s.At%time.Hour/time.Minute)
		for i := 0; i <= 8; i++ {
			c := time.Date(y, m, d+i, h, mi, 0, 0, loc)
			if c.After(opened) && (s.Every == Daily || c.Weekday() == s.Weekday) {
				return c
			}
		}
	}
	return opened.Add(time.Hour) // unchecked schedule: close soon rather than never
}

// String is the schedule's stored form: "window:15m0s", "hourly",
// "daily@08:00", "weekly@1@08:00" (weekday as time.Weekday, Sunday 0).
func (s Schedule) String() string {
	hm := fmt.Sprintf("%02d:%02d", int(s.At/time.Hour), int(s.At%time.Hour/time.Minute))
	switch s.Every {
	case Window:
		return "window:" + s.Window.String()
	case Hourly:
		return "hourly"
	case Daily:
		return "daily@" + hm
	case Weekly:
		return fmt.Sprintf("weekly@%d@%s", int(s.Weekday), hm)
	}
	return fmt.Sprintf("Schedule(%d)", int(s.Every))
}

// ParseSchedule reads what Schedule.String wrote.
func ParseSchedule(v string) (Schedule, error) {
	bad := &ConfigError{Field: "Schedule", Reason: fmt.Sprintf("%.40q is not a schedule: use window:<duration>, hourly, daily@HH:MM or weekly@<0-6>@HH:MM", v)}
	parseHM := func(hm string) (time.Duration, bool) {
		h, m, ok := strings.Cut(hm, ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || len(h) != 2 || len(m) != 2 || hh > 23 || mm > 59 || hh < 0 || mm < 0 {
			return 0, false
		}
		return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
	}
	var s Schedule
	switch {
	case v == "hourly":
		s = EveryHour()
	case strings.HasPrefix(v, "window:"):
		d, err := time.ParseDuration(v[len("window:"):])
		if err != nil {
			return s, bad
		}
		s = FixedWindow(d)
	case strings.HasPrefix(v, "daily@"):
		at, ok := parseHM(v[len("daily@"):])
		if !ok {
			return s, bad
		}
		s = Schedule{Every: Daily, At: at}
	case strings.HasPrefix(v, "weekly@"):
		day, hm, ok := strings.Cut(v[len("weekly@"):], "@")
		wd, err := strconv.Atoi(day)
		at, ok2 := parseHM(hm)
		if !ok || err != nil || !ok2 || len(day) != 1 {
			return s, bad
		}
		s = Schedule{Every: Weekly, Weekday: time.Weekday(wd), At: at}
	default:
		return s, bad
	}
	if err := s.Check(); err != nil {
		return s, err
	}
	return s, nil
}
