package sms_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/sms"
)

// CheckHTTP refuses a callback that is not an absolute http(s) URL and a
// base URL without a host, naming the field; it fills the defaults.
func TestCheckHTTP(t *testing.T) {
	for _, c := range []struct{ callback, base, field string }{
		{"ftp://cb.test/x", "", "p.Config.StatusCallback"},
		{"/relative", "", "p.Config.StatusCallback"},
		{"", "no-host", "p.Config.BaseURL"},
	} {
		base, client := c.base, (*http.Client)(nil)
		_, err := sms.CheckHTTP("p.Config.", c.callback, &base, "https://api.test", &client)
		var ce *inbox.ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: %v; want a config error of %s", c, err, c.field)
		}
	}
	base, client := "", (*http.Client)(nil)
	cb, err := sms.CheckHTTP("p.Config.", "https://cb.test/dlr?x=1", &base, "https://api.test", &client)
	if err != nil || cb.String() != "https://cb.test/dlr?x=1" || base != "https://api.test" || client == nil || client.Timeout != 15*time.Second {
		t.Fatalf("CheckHTTP: %v %v %q %+v; want the callback parsed and the defaults", cb, err, base, client)
	}
	if got := sms.CallbackURL(cb, "acme"); got != "https://cb.test/dlr?"+sms.TenantParam+"=acme&x=1" {
		t.Errorf("CallbackURL %q", got)
	}
	if got := sms.CallbackURL(cb, ""); got != cb.String() {
		t.Errorf("CallbackURL without a tenant %q", got)
	}
	if u, _ := url.Parse("https://cb.test/dlr"); sms.CallbackURL(u, "acme") == u.String() {
		t.Error("CallbackURL dropped the tenant")
	}
}
