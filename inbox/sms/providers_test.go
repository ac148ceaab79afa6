package sms_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/sms"
	"github.com/tidingsdev/tidings/inbox/sms/twilio"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
	"github.com/tidingsdev/tidings/inbox/sms/vonage"
	"github.com/tidingsdev/tidings/inbox/sms/vonagetest"
)

// A providerCase is one SMS provider the inbox's provider-neutral tests
// run with: a factory for its local peer, and the codes it answers.
type providerCase struct {
	name string
	sink string // the inbox's Sink with this provider
	// start starts the provider's local peer.
	start func(t *testing.T) peer
	// unauthorized, optedOut and invalid are the provider's codes for
	// wrong credentials, a number that texted STOP and an invalid number.
	unauthorized, optedOut, invalid string
}

// providers are the SMS providers the tests of providers_test.go run
// with.
var providers = []providerCase{
	{name: "twilio", sink: "sms:twilio", unauthorized: "20003", optedOut: "21610", invalid: "21211",
		start: func(t *testing.T) peer { return twilioPeer{twiliotest.Start(t)} }},
	{name: "vonage", sink: "sms:vonage", unauthorized: "4", optedOut: "7", invalid: "6",
		start: func(t *testing.T) peer { return vonagePeer{vonagetest.Start(t)} }},
}

// A peer is a provider's local server, with the controls every provider's
// has.
type peer interface {
	// Provider is an sms.Provider sending to the peer; with wrongSecret
	// its credentials are not the peer's.
	Provider(t *testing.T, wrongSecret bool) sms.Provider
	Down(httpStatus int) // every request answers httpStatus until Up
	Up()
	Fail(httpStatus, n int, retryAfter string) // the next n requests answer httpStatus
	OptOut(number string)                      // the number texted STOP
	Invalid(number string)                     // the number is invalid
	Sent() []sent                              // every request answered, in order
	WaitFor(d time.Duration, cond func([]sent) bool) error
}

// sent is one request a peer answered, in the same words for every
// provider.
type sent struct {
	To, Text string // To in E.164 with "+"
	Accepted bool
	Code     string // the provider's code answered, "0" when accepted
}

func accepted(ms []sent) []sent {
	var out []sent
	for _, m := range ms {
		if m.Accepted {
			out = append(out, m)
		}
	}
	return out
}

type twilioPeer struct{ *twiliotest.Server }

func (p twilioPeer) Provider(t *testing.T, wrongSecret bool) sms.Provider {
	if !wrongSecret {
		return provider(t, p.Server, "")
	}
	t.Helper()
	pr, err := twilio.New(twilio.Config{AccountSID: p.AccountSID, AuthToken: "not-the-token", From: "+15005550006", BaseURL: p.URL})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func (p twilioPeer) Sent() []sent { return twilioSent(p.Messages()) }

func (p twilioPeer) WaitFor(d time.Duration, cond func([]sent) bool) error {
	_, err := p.Server.WaitFor(d, func(ms []twiliotest.Message) bool { return cond(twilioSent(ms)) })
	return err
}

func twilioSent(ms []twiliotest.Message) []sent {
	out := make([]sent, len(ms))
	for i, m := range ms {
		out[i] = sent{To: m.To, Text: m.Body, Accepted: m.Status == http.StatusCreated, Code: fmt.Sprint(m.Code)}
	}
	return out
}

type vonagePeer struct{ *vonagetest.Server }

func (p vonagePeer) Provider(t *testing.T, wrongSecret bool) sms.Provider {
	if !wrongSecret {
		return vonageProvider(t, p.Server, "")
	}
	t.Helper()
	pr, err := vonage.New(vonage.Config{APIKey: p.APIKey, APISecret: "not-the-secret", From: "+15005550006", BaseURL: p.URL})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func (p vonagePeer) OptOut(number string) { p.Bar(number) } // status 7: on the barred list

func (p vonagePeer) Sent() []sent { return vonageSent(p.Messages()) }

func (p vonagePeer) WaitFor(d time.Duration, cond func([]sent) bool) error {
	_, err := p.Server.WaitFor(d, func(ms []vonagetest.Message) bool { return cond(vonageSent(ms)) })
	return err
}

func vonageSent(ms []vonagetest.Message) []sent {
	out := make([]sent, len(ms))
	for i, m := range ms {
		out[i] = sent{To: "+" + m.To, Text: m.Text, Accepted: m.Status == "0", Code: m.Status}
	}
	return out
}
