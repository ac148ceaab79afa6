package sms_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/sms"
)

// HTTPRefusal classes an answer by its HTTP status alone, the 429's wait
// its Retry-After or else the provider's default.
func TestHTTPRefusal(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		status     int
		retryAfter string
		class      error
		wait       time.Duration
	}{
		{http.StatusTooManyRequests, "7", sms.ErrRateLimited, 7 * time.Second},
		{http.StatusTooManyRequests, now.Add(9 * time.Second).Format(http.TimeFormat), sms.ErrRateLimited, 9 * time.Second},
		{http.StatusTooManyRequests, "", sms.ErrRateLimited, 4 * time.Second}, // the default wait
		{http.StatusTooManyRequests, "0", sms.ErrRateLimited, 0},
		{http.StatusUnauthorized, "", sms.ErrUnauthorized, 0},
		{http.StatusForbidden, "", sms.ErrUnauthorized, 0},
		{http.StatusServiceUnavailable, "7", sms.ErrUnavailable, 0},
		{http.StatusRequestTimeout, "", sms.ErrUnavailable, 0},
		{http.StatusNotFound, "", sms.ErrRejected, 0},
		{http.StatusFound, "", sms.ErrRejected, 0},
	} {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{}}
		if c.retryAfter != "" {
			resp.Header.Set("Retry-After", c.retryAfter)
		}
		se := sms.HTTPRefusal("p", resp, []byte("  a proxy's page  "), now, 4*time.Second)
		if !errors.Is(se, c.class) || se.RetryAfter != c.wait || se.Status != c.status || se.Message != "a proxy's page" || se.Provider != "p" {
			t.Errorf("%d %q: %+v; want %v waiting %s", c.status, c.retryAfter, se, c.class, c.wait)
		}
	}
}
