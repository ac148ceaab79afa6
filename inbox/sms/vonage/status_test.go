package vonage_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
)

// A handler without a signature secret must say Unsigned: then it takes a
// receipt without sig (and ignores client-ref); a signed handler refuses
// the same receipt.
func TestUnsignedReceiptsOnlyWhenAsked(t *testing.T) {
	_, err := vonage.NewStatusHandler(vonage.StatusConfig{DB: testDB})
	var ce *inbox.ConfigError
	if !errors.As(err, &ce) || ce.Field != "vonage.StatusConfig.SignatureSecret" {
		t.Fatalf("NewStatusHandler without a secret: %v; want a ConfigError naming SignatureSecret", err)
	}
	var told []vonage.Status
	unsigned, err := vonage.NewStatusHandler(vonage.StatusConfig{Unsigned: true, DB: testDB,
		OnStatus: func(_ context.Context, s vonage.Status) { told = append(told, s) }})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := vonage.NewStatusHandler(vonage.StatusConfig{SignatureSecret: "s", DB: testDB,
		OnStatus: func(_ context.Context, s vonage.Status) { told = append(told, s) }})
	if err != nil {
		t.Fatal(err)
	}
	const receipt = "msisdn=447700900000&to=Acme&messageId=0A01&status=delivered&err-code=0&client-ref=t0"
	post := func(h http.Handler) int {
		req := httptest.NewRequest(http.MethodPost, "/dlr?"+vonage.TenantParam+"=acme", strings.NewReader(receipt))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(signed); code != http.StatusForbidden || len(told) != 0 {
		t.Fatalf("signed handler: %d, told %d; want 403, none", code, len(told))
	}
	if code := post(unsigned); code != http.StatusOK || len(told) != 1 || told[0].To != "+447700900000" || told[0].Tenant != "acme" {
		t.Fatalf("unsigned handler: %d, told %+v; want 200 with the receipt", code, told)
	}
	req := httptest.NewRequest(http.MethodPut, "/dlr", nil)
	rec := httptest.NewRecorder()
	unsigned.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: %d, want 405", rec.Code)
	}
}
