package vonage_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

func provider(t *testing.T, peer *vonagetest.Server, mod func(*vonage.Config)) *vonage.Provider {
	t.Helper()
	cfg := vonage.Config{APIKey: peer.APIKey, APISecret: peer.APISecret, From: "+15005550006", BaseURL: peer.URL}
	if mod != nil {
		mod(&cfg)
	}
	p, err := vonage.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Each answer of the local Vonage is classed as the package's doc says:
// accepted (with its message-id), an invalid number gone, a barred one
// opted out, wrong credentials or signature a misconfiguration, throttled
// (200, status 1) and 429 rate limits with their waits, 5xx an outage, a
// malformed number refused for the message.
func TestSendClasses(t *testing.T) {
	peer := vonagetest.Start(t)
	ctx := context.Background()
	send := func(p *vonage.Provider, to string) (sms.Receipt, error) {
		return p.Send(ctx, sms.Message{To: to, Body: "Ana commented on #7"})
	}
	p := provider(t, peer, nil)
	r, err := send(p, "+14155550100")
	if err != nil || r.ID == "" || len(peer.Accepted()) != 1 || peer.Accepted()[0].To != "14155550100" {
		t.Fatalf("accepted: %+v %v, peer %+v", r, err, peer.Accepted())
	}
	if r.ID != peer.Accepted()[0].ID {
		t.Fatalf("receipt ID %q, the peer's message-id %q", r.ID, peer.Accepted()[0].ID)
	}
	peer.Invalid("+14155550101")
	peer.Bar("+14155550102")
	signed := provider(t, peer, func(c *vonage.Config) {
		c.APISecret, c.SignatureSecret, c.SignatureMethod = "", peer.SignatureSecret, vonage.MD5Hash
	})
	badSig := provider(t, peer, func(c *vonage.Config) { c.APISecret, c.SignatureSecret = "", "not-the-secret" })
	wrongKey := provider(t, peer, func(c *vonage.Config) { c.APISecret = "wrong" })
	throttle := 3 * time.Second
	throttled := provider(t, peer, func(c *vonage.Config) { c.ThrottleWait = throttle })

	check := func(what string, err error, class error, code string, retryAfter time.Duration) {
		t.Helper()
		var se *sms.SendError
		if !errors.As(err, &se) || !errors.Is(err, class) || se.Code != code || se.RetryAfter != retryAfter {
			t.Errorf("%s: %v (%+v); want %v, code %q, retry after %s", what, err, se, class, code, retryAfter)
		}
	}
	_, err = send(p, "+14155550101")
	check("invalid number", err, sms.ErrGone, "6", 0)
	_, err = send(p, "+14155550102")
	check("barred number", err, sms.ErrOptedOut, "7", 0)
	_, err = send(wrongKey, "+14155550100")
	check("wrong secret", err, sms.ErrUnauthorized, "4", 0)
	_, err = send(badSig, "+14155550100")
	check("wrong signature secret", err, sms.ErrUnauthorized, "14", 0)
	if _, err := send(signed, "+14155550100"); err != nil {
		t.Errorf("signed request: %v", err)
	} else if got := peer.Accepted(); !got[len(got)-1].Signed {
		t.Errorf("signed request accepted as %+v", got[len(got)-1])
	}
	_, err = send(p, "+1")
	check("malformed number", err, sms.ErrRejected, "3", 0)
	peer.Throttle(1)
	_, err = send(throttled, "+14155550100")
	check("throttled", err, sms.ErrRateLimited, "1", throttle)
	peer.Fail(http.StatusTooManyRequests, 1, "7")
	_, err = send(p, "+14155550100")
	check("429", err, sms.ErrRateLimited, "", 7*time.Second)
	peer.Fail(http.StatusServiceUnavailable, 1, "")
	_, err = send(p, "+14155550100")
	check("503", err, sms.ErrUnavailable, "", 0)
	for code, class := range map[string]error{"9": sms.ErrUnauthorized, "29": sms.ErrRejected, "33": sms.ErrGone, "5": sms.ErrUnavailable, "10": sms.ErrRateLimited, "99": sms.ErrRejected} {
		if got := vonage.CodeClass(code); got != class {
			t.Errorf("CodeClass(%s) = %v, want %v", code, got, class)
		}
	}
}

// A text outside the GSM alphabet goes as "unicode"; a GSM one (umlauts
// included) as text.
func TestUnicodeType(t *testing.T) {
	peer := vonagetest.Start(t)
	p := provider(t, peer, nil)
	for _, body := range []string{"Müller hat #7 kommentiert: [ok] €5", "Ана прокомментировала #7", "Ana 👍 #7"} {
		if _, err := p.Send(context.Background(), sms.Message{To: "+14155550100", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	var types []string
	for _, m := range peer.Accepted() {
		types = append(types, m.Type)
	}
	if len(types) != 3 || types[0] != "text" || types[1] != "unicode" || types[2] != "unicode" {
		t.Fatalf("types %v; want text, unicode, unicode", types)
	}
}
