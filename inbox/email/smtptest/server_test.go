package smtptest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

func send(t *testing.T, addr, body string) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader(body))
}

func TestServerRecordsAndFails(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	srv.FailNext(1, smtptest.Failure{Code: 421, Message: "busy"})
	err := send(t, srv.Addr(), "Subject: one\r\n\r\nhello\r\n")
	if err == nil || !strings.Contains(err.Error(), "421") {
		t.Fatalf("first transaction gave %v, want a 421", err)
	}
	if err := send(t, srv.Addr(), "Subject: =?UTF-8?q?J=C3=BCrgen?=\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nsch=C3=B6n\r\n"); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	if m.From != "a@example.com" || m.To[0] != "b@example.com" || m.Subject != "Jürgen" || m.Text != "schön\r\n" {
		t.Errorf("got from %q to %q subject %q text %q", m.From, m.To, m.Subject, m.Text)
	}
	if srv.Transactions() != 2 {
		t.Errorf("Transactions() = %d, want 2", srv.Transactions())
	}
	if _, err := srv.WaitFor(2, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "got 1") {
		t.Errorf("WaitFor past the last message gave %v, want a timeout naming the count", err)
	}
}
