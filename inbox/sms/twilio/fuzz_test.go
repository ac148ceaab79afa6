package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
)

// FuzzStatusCallback posts Twilio delivery-status callbacks as the
// network could carry them (any form body, any query, a signature made by
// the independent signer of twiliotest, none, or a wrong one) to a
// StatusHandler. A request it refuses (400 bad form, 403 signature) must
// be refused before any write to the database and never reach OnStatus; a
// signed one must be answered 200 with the Status OnStatus gets carrying
// the form's fields and the URL's tenant as posted, and may write only
// when the report is an undelivered or failed message to a number with
// 21610 or one of the gone codes. Never a panic.
func FuzzStatusCallback(f *testing.F) {
	const token, base = "fuzz-auth-token", "https://demo.example/twilio/status"
	f.Add("MessageSid=SM1&AccountSid=AC1&To=%2B14155550100&From=%2B14155550199&MessageStatus=delivered", "", byte(0))
	f.Add("MessageSid=SM2&To=%2B14155550100&MessageStatus=undelivered&ErrorCode=30005", "tidings_tenant=t1", byte(0))
	f.Add("MessageSid=SM3&To=%2B14155550100&MessageStatus=failed&ErrorCode=21610", "tidings_tenant=t2", byte(0))
	f.Add("MessageSid=SM4&To=%2B14155550100&SmsStatus=failed&ErrorCode=30003", "", byte(0))
	f.Add("MessageSid=SM5&To=%2B14155550100&MessageStatus=failed&ErrorCode=21610", "", byte(1))
	f.Add("MessageSid=SM6&To=%2B14155550100&MessageStatus=undelivered&ErrorCode=30006", "tidings_tenant=t1", byte(2))
	f.Add("%zz=1", "", byte(0))
	f.Add("To=%2B1&To=%2B2&MessageStatus=failed&MessageStatus=sent&ErrorCode=30005", "tidings_tenant=%00&tidings_tenant=x", byte(0))
	f.Add("MessageStatus=undelivered&ErrorCode=30005&To=", ";", byte(0))

	// writes counts the statements that may change rows.
	db, writes := addresstest.CountWrites(f, testDB)
	var told []twilio.Status
	h, err := twilio.NewStatusHandler(twilio.StatusConfig{AuthToken: token, URL: base, DB: db,
		OnStatus: func(_ context.Context, s twilio.Status) { told = append(told, s) }})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body, query string, signing byte) {
		told = told[:0]
		before := writes.Load()
		req := httptest.NewRequest(http.MethodPost, "/twilio/status", strings.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, formErr := url.ParseQuery(body)
		full := base
		if query != "" {
			full += "?" + query
		}
		switch signing % 3 {
		case 0: // signed as Twilio signs
			req.Header.Set(twilio.SignatureHeader, twiliotest.Sign(token, full, form))
		case 1: // none
		case 2: // signed with another account's token
			req.Header.Set(twilio.SignatureHeader, twiliotest.Sign("another-token", full, form))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		wrote, got := writes.Load()-before, told

		_, queryErr := url.ParseQuery(query)
		signed := signing%3 == 0 && formErr == nil && queryErr == nil
		if !signed {
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusForbidden {
				t.Fatalf("unsigned or malformed callback (signing %d, form error %v, query error %v) answered %d, want 400 or 403", signing%3, formErr, queryErr, rec.Code)
			}
			if wrote != 0 || len(got) != 0 {
				t.Fatalf("refused callback (%d) wrote %d statements and reached OnStatus %d times", rec.Code, wrote, len(got))
			}
			return
		}
		q, _ := url.ParseQuery(query)
		if rec.Code == http.StatusBadRequest && wrote == 0 && len(got) == 0 && strings.HasPrefix(rec.Body.String(), "bad number\n") {
			return // a number the suppression list refuses, refused before any write
		}
		if addresstest.Unstorable(form.Get("To")) || addresstest.Unstorable(q.Get(twilio.TenantParam)) {
			// A number or tenant PostgreSQL cannot hold as text (NUL,
			// invalid UTF-8), signed: refused as bad, before any write.
			if rec.Code != http.StatusBadRequest || wrote != 0 || len(got) != 0 {
				t.Fatalf("signed callback with an unstorable number or tenant answered %d, wrote %d statements, OnStatus %d times; want 400, none, none", rec.Code, wrote, len(got))
			}
			return
		}
		if rec.Code != http.StatusOK || len(got) != 1 {
			t.Fatalf("signed callback answered %d %q, OnStatus told %d times; want 200 once", rec.Code, rec.Body, len(got))
		}
		s := got[0]
		status := form.Get("MessageStatus")
		if status == "" {
			status = form.Get("SmsStatus")
		}
		if s.MessageSID != form.Get("MessageSid") || s.AccountSID != form.Get("AccountSid") || s.To != form.Get("To") ||
			s.From != form.Get("From") || s.Status != status || s.ErrorCode != form.Get("ErrorCode") || s.Tenant != q.Get(twilio.TenantParam) {
			t.Fatalf("OnStatus got %+v for form %v and query %v", s, form, q)
		}
		removes := (s.Status == "undelivered" || s.Status == "failed") && s.To != "" &&
			(s.ErrorCode == "21610" || slices.Contains([]string{"30005", "30006"}, s.ErrorCode))
		if wrote != 0 && !removes {
			t.Fatalf("callback %+v wrote %d statements; only a gone or opted-out number's report may", s, wrote)
		}
		if s.Removed < 0 || (!removes && s.Removed != 0) {
			t.Fatalf("callback %+v removed %d numbers", s, s.Removed)
		}
	})
}
