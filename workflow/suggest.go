package workflow

import "github.com/tidingsdev/tidings/internal/suggest"

// didYouMean formats a suggestion for messages: ` (did you mean "x"?)`, or
// "" when there is none.
func didYouMean(s string, candidates []string) string {
	if n := suggest.Nearest(s, candidates); n != "" {
		return ` (did you mean "` + n + `"?)`
	}
	return ""
}
