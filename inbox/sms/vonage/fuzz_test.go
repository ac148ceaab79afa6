package vonage_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox/address/addresstest"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

// FuzzStatusCallback sends Vonage delivery receipts as the network could
// carry them to a StatusHandler: any parameters (a form or JSON body, or
// the query of a GET), any query (the callback URL's tenant), signed by
// the independent signer of vonagetest, not signed, or signed with
// another secret, with the client-ref of the URL's tenant or as given. A
// receipt it cannot read (a malformed query or form, a parameter or the
// tenant twice, JSON that is not an object of strings) must be answered
// 400, one without a valid signature or signed for another tenant 403,
// both before any write to the database and without reaching OnStatus; a
// signed one must be answered 200 with the Status OnStatus gets carrying
// the receipt's fields and the URL's tenant as sent, and may write only
// when it is an undelivered message to a number with err-code 9 or one of
// the gone codes. Never a panic.
func FuzzStatusCallback(f *testing.F) {
	const secret = "fuzz-signature-secret"
	const base = "/vonage/dlr"
	f.Add("msisdn=14155550100&to=Acme&messageId=0B01&status=delivered&err-code=0&network-code=23410&price=0.03", "", byte(0))
	f.Add("msisdn=14155550100&to=Acme&messageId=0B02&status=failed&err-code=3", "tidings_tenant=t1", byte(0))
	f.Add("msisdn=14155550100&messageId=0B03&status=rejected&err-code=9", "tidings_tenant=t2", byte(3))
	f.Add(`{"msisdn":"14155550100","messageId":"0B04","status":"expired","err-code":"4"}`, "tidings_tenant=t1", byte(6))
	f.Add(`{"msisdn":14155550100}`, "", byte(6))
	f.Add("msisdn=14155550100&status=failed&err-code=3", "", byte(1))
	f.Add("msisdn=14155550100&status=failed&err-code=3", "", byte(2))
	f.Add("msisdn=14155550100&status=failed&err-code=3&client-ref=t0", "tidings_tenant=t1", byte(9))
	f.Add("%zz=1", "", byte(0))
	f.Add("msisdn=1&msisdn=2&status=failed", "tidings_tenant=%00&tidings_tenant=x", byte(0))
	f.Add("status=failed&err-code=9&msisdn=+", ";", byte(0))
	f.Add("status=failed&err-code=9&msisdn=%20", "", byte(0))
	f.Add("msisdn=1415%00&status=failed&err-code=3", "tidings_tenant=t1", byte(0))
	f.Add(`{"msisdn":"14155550100","status":"rejected","err-code":"9"}`, "tidings_tenant=t%FF", byte(8))

	db, writes := addresstest.CountWrites(f, testDB)
	var told []vonage.Status
	h, err := vonage.NewStatusHandler(vonage.StatusConfig{SignatureSecret: secret, SignatureMethod: vonage.SHA256HMAC, DB: db,
		OnStatus: func(_ context.Context, s vonage.Status) { told = append(told, s) }})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, body, query string, mode byte) {
		told = told[:0]
		before := writes.Load()
		signing, transport, keepRef := mode%3, (mode/3)%3, (mode/9)%2 == 1

		// What the receipt's parameters are, read apart from the handler.
		// A GET carries them in its query, with the tenant.
		raw := query
		if transport == 1 && body != "" {
			raw = body
			if query != "" {
				raw = query + "&" + body
			}
		}
		q, queryErr := url.ParseQuery(raw)
		tenant := q.Get(vonage.TenantParam)
		bad := queryErr != nil || len(q[vonage.TenantParam]) > 1
		params := map[string]string{}
		switch transport {
		case 0, 1: // a POST form; a GET query
			v, err := url.ParseQuery(body)
			if transport == 1 {
				v, err = q, queryErr
				delete(v, vonage.TenantParam) // the URL's, not a receipt parameter
			}
			bad = bad || err != nil
			for k, vs := range v {
				if len(vs) != 1 {
					bad = true
				}
				params[k] = vs[0]
			}
		case 2: // a POST of JSON
			var obj map[string]any
			if err := json.Unmarshal([]byte(body), &obj); err != nil {
				bad = true
			}
			for k, v := range obj {
				s, ok := v.(string)
				if !ok {
					bad = true
				}
				params[k] = s
			}
		}
		if !bad {
			if !keepRef {
				delete(params, "client-ref")
				if ref := vonage.ClientRef(tenant); ref != "" {
					params["client-ref"] = ref
				}
			}
			delete(params, "sig")
			switch signing {
			case 0: // signed as Vonage signs
				params["sig"] = vonagetest.Sign("sha256", secret, params)
			case 2: // signed with another account's secret
				params["sig"] = vonagetest.Sign("sha256", "another-secret", params)
			}
		}

		// The request: the parameters as read (re-encoded when they
		// could be read), else the input as it came.
		var req *http.Request
		encode := func() string {
			if bad {
				if transport == 1 {
					return raw
				}
				return body
			}
			v := url.Values{}
			for k, s := range params {
				v.Set(k, s)
			}
			if transport == 1 && tenant != "" {
				v.Set(vonage.TenantParam, tenant)
			}
			return v.Encode()
		}
		switch transport {
		case 0:
			req = httptest.NewRequest(http.MethodPost, base, strings.NewReader(encode()))
			req.URL.RawQuery = query
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case 1:
			req = httptest.NewRequest(http.MethodGet, base, nil)
			req.URL.RawQuery = encode()
		case 2:
			b := []byte(body)
			if !bad {
				b, _ = json.Marshal(params)
			}
			req = httptest.NewRequest(http.MethodPost, base, strings.NewReader(string(b)))
			req.URL.RawQuery = query
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		wrote, got := writes.Load()-before, told

		refusedBefore := func(want int) {
			t.Helper()
			if rec.Code != want || wrote != 0 || len(got) != 0 {
				t.Fatalf("receipt (transport %d, signing %d, unreadable %v) answered %d, wrote %d statements, OnStatus %d times; want %d, none, none",
					transport, signing, bad, rec.Code, wrote, len(got), want)
			}
		}
		if bad {
			refusedBefore(http.StatusBadRequest)
			return
		}
		if signing != 0 || params["client-ref"] != vonage.ClientRef(tenant) {
			refusedBefore(http.StatusForbidden)
			return
		}
		number := ""
		if n := params["msisdn"]; n != "" {
			number = "+" + strings.TrimPrefix(n, "+")
		}
		if rec.Code == http.StatusBadRequest && strings.HasPrefix(rec.Body.String(), "bad number\n") {
			refusedBefore(http.StatusBadRequest) // a number the suppression list refuses
			return
		}
		if addresstest.Unstorable(number) || addresstest.Unstorable(tenant) {
			refusedBefore(http.StatusBadRequest)
			return
		}
		if rec.Code != http.StatusOK || len(got) != 1 {
			t.Fatalf("signed receipt answered %d %q, OnStatus told %d times; want 200 once", rec.Code, rec.Body, len(got))
		}
		s := got[0]
		if s.MessageID != params["messageId"] || s.To != number || s.From != params["to"] || s.Status != params["status"] ||
			s.ErrorCode != params["err-code"] || s.NetworkCode != params["network-code"] || s.Price != params["price"] ||
			s.MessageTimestamp != params["message-timestamp"] || s.Tenant != tenant {
			t.Fatalf("OnStatus got %+v for %v and tenant %q", s, params, tenant)
		}
		removes := vonage.Undelivered(s.Status) && s.To != "" &&
			(s.ErrorCode == vonage.OptedOutCode || slices.Contains([]string{"3", "4"}, s.ErrorCode))
		if wrote != 0 && !removes {
			t.Fatalf("receipt %+v wrote %d statements; only a gone or opted-out number's may", s, wrote)
		}
		if s.Removed < 0 || (!removes && s.Removed != 0) {
			t.Fatalf("receipt %+v removed %d numbers", s, s.Removed)
		}
	})
}

// The fuzz test's write counter counts a raw Exec, not a read.
func TestCountWrites(t *testing.T) {
	db, writes := addresstest.CountWrites(t, testDB)
	var one int
	if err := db.Raw("SELECT 1").Scan(&one).Error; err != nil || writes.Load() != 0 {
		t.Fatalf("a read: %v, %d writes counted", err, writes.Load())
	}
	if err := db.Exec("SELECT 1").Error; err != nil || writes.Load() != 1 {
		t.Fatalf("an Exec: %v, %d writes counted, want 1", err, writes.Load())
	}
	if !addresstest.Unstorable("a\x00b") || !addresstest.Unstorable("\xff") || addresstest.Unstorable("+14155550100") {
		t.Fatal("Unstorable: want NUL and invalid UTF-8 only")
	}
}
