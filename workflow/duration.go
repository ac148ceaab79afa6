package workflow

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// MaxDuration caps the durations of older_than and newer_than: 200 years.
const MaxDuration = 200 * 365 * 24 * time.Hour

// ParseDuration parses the durations of older_than and newer_than: a
// sequence of decimal numbers, each with a unit, such as "365d", "8760h",
// "1d12h", "2w" or "90m". Units are s, m, h, d (24 hours) and w (7 days).
// The duration must be positive and at most MaxDuration.
func ParseDuration(s string) (time.Duration, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a duration: %s; write a number and a unit, such as \"365d\", \"8760h\", \"1d12h\" or \"2w\" (units s, m, h, d, w)", s, why)
	}
	if s == "" {
		return 0, bad("it is empty")
	}
	var total float64
	for rest := s; rest != ""; {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, bad(fmt.Sprintf("expected a number at %q", rest))
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, bad(fmt.Sprintf("%q is not a number", rest[:i]))
		}
		rest = rest[i:]
		j := 0
		for j < len(rest) && rest[j] >= 'a' && rest[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch rest[:j] {
		case "s":
			unit = time.Second
		case "m":
			unit = time.Minute
		case "h":
			unit = time.Hour
		case "d":
			unit = 24 * time.Hour
		case "w":
			unit = 7 * 24 * time.Hour
		case "":
			return 0, bad(fmt.Sprintf("%g has no unit", n))
		default:
			return 0, bad(fmt.Sprintf("unknown unit %q", rest[:j]))
		}
		rest = rest[j:]
		total += n * float64(unit)
		if total > float64(MaxDuration) {
			return 0, bad("it is longer than 200 years")
		}
	}
	d := time.Duration(math.Round(total))
	if d <= 0 {
		return 0, bad("it is not positive")
	}
	return d, nil
}
