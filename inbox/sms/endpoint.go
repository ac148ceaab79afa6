package sms

import (
	"net/http"
	"net/url"
	"time"

	"github.com/tidingsdev/tidings/inbox"
)

// TenantParam is the query parameter of a delivery-report URL naming the
// message's tenant (twilio.TenantParam, vonage.TenantParam).
const TenantParam = "tidings_tenant"

// CallbackURL is the delivery-report URL of a message of tenant: base
// with TenantParam set when tenant is not "".
func CallbackURL(base *url.URL, tenant string) string {
	if tenant == "" {
		return base.String()
	}
	u := *base
	q := u.Query()
	q.Set(TenantParam, tenant)
	u.RawQuery = q.Encode()
	return u.String()
}

// CheckHTTP checks and completes the HTTP settings every provider's
// config has: callback, its StatusCallback ("" for none, else an
// absolute http(s) URL, returned parsed); *baseURL, its BaseURL
// (defaultBaseURL when "", an absolute URL); *client, its HTTPClient (one
// with a 15-second timeout when nil). A bad setting is an
// *inbox.ConfigError naming prefix and the field ("twilio.Config.").
func CheckHTTP(prefix, callback string, baseURL *string, defaultBaseURL string, client **http.Client) (*url.URL, error) {
	var cb *url.URL
	if callback != "" {
		u, err := url.Parse(callback)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, &inbox.ConfigError{Field: prefix + "StatusCallback", Reason: "is not an absolute http(s) URL"}
		}
		cb = u
	}
	if *baseURL == "" {
		*baseURL = defaultBaseURL
	}
	if u, err := url.Parse(*baseURL); err != nil || u.Host == "" {
		return nil, &inbox.ConfigError{Field: prefix + "BaseURL", Reason: "is not an absolute URL"}
	}
	if *client == nil {
		*client = &http.Client{Timeout: 15 * time.Second}
	}
	return cb, nil
}
