package email_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

func TestSendDeliversRenderedMail(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	b := builder(t, templates(t))
	ev := event(17, "42", "comment_added", "Ana", map[string]any{"body": "Looks good to me"})

	m, err := b.Build(ctx, ev, bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender(t, srv).Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.ParseError != nil {
		t.Fatal(got.ParseError)
	}
	if got.From != "notify@example.com" || len(got.To) != 1 || got.To[0] != "bob@example.com" {
		t.Errorf("envelope from %q to %q, want notify@example.com to [bob@example.com]", got.From, got.To)
	}
	if got.Subject != "Ana commented on issue 42" {
		t.Errorf("subject %q", got.Subject)
	}
	if !strings.Contains(got.Text, "Ana wrote:\nLooks good to me") && !strings.Contains(got.Text, "Ana wrote:\r\nLooks good to me") {
		t.Errorf("text body %q lacks the comment", got.Text)
	}
	if !strings.Contains(got.HTML, "<blockquote>Looks good to me</blockquote>") {
		t.Errorf("html body %q lacks the comment", got.HTML)
	}
	h := got.Header
	wantID := "<" + email.MessageID("example.com", ev.Ref(), "bob@example.com") + ">"
	for name, want := range map[string]string{
		"Message-Id":            wantID,
		"In-Reply-To":           "<issue-42@example.com>",
		"References":            "<issue-42@example.com>",
		"List-Unsubscribe":      "<https://tracker.example.com/unsubscribe?u=3&action=comment_added>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Auto-Submitted":        "auto-generated",
		"To":                    `"Bob Builder" <bob@example.com>`,
	} {
		if g := h.Get(name); g != want {
			t.Errorf("header %s = %q, want %q", name, g, want)
		}
	}
	if d, err := h.Date(); err != nil || !d.Equal(ev.OccurredAt) {
		t.Errorf("Date %v (%v), want the event's time %v", d, err, ev.OccurredAt)
	}
}

func TestLabelWithCRLFAndScriptArrivesEncoded(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{})
	b := builder(t, templates(t))
	evil := "Ana\r\nBcc: victim@attacker.test\r\nX-Evil: 1\n<script>alert(1)</script> Jürgen"
	ev := event(18, "42", "comment_added", evil, map[string]any{"body": "<img src=x onerror=alert(2)>"})
	to := email.Recipient{ID: "4", Name: "Eve\r\nCc: other@attacker.test", Email: "eve@example.com"}

	m, err := b.Build(ctx, ev, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := sender(t, srv).Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	got := msgs[0]
	if got.ParseError != nil {
		t.Fatal(got.ParseError)
	}
	for _, line := range got.HeaderLines() {
		l := strings.ToLower(line)
		if strings.HasPrefix(l, "bcc:") || strings.HasPrefix(l, "x-evil:") || strings.HasPrefix(l, "cc:") {
			t.Errorf("injected header line %q", line)
		}
	}
	if len(got.Header["Bcc"]) != 0 || len(got.Header["Cc"]) != 0 || len(got.Header["X-Evil"]) != 0 {
		t.Errorf("parsed headers include injected fields: %v", got.Header)
	}
	if len(got.To) != 1 || got.To[0] != "eve@example.com" {
		t.Errorf("envelope recipients %q, want only eve@example.com", got.To)
	}
	var rawSubject string
	inSubject := false
	for _, line := range got.HeaderLines() {
		switch {
		case strings.HasPrefix(line, "Subject:"):
			rawSubject, inSubject = line, true
		case inSubject && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")):
			rawSubject += line // a folded continuation
		default:
			inSubject = false
		}
	}
	if !strings.Contains(rawSubject, "=?UTF-8?") {
		t.Errorf("raw subject %q is not RFC 2047-encoded", rawSubject)
	}
	wantSubject := "Ana Bcc: victim@attacker.test X-Evil: 1 <script>alert(1)</script> Jürgen commented on issue 42"
	if got.Subject != wantSubject {
		t.Errorf("decoded subject %q, want %q", got.Subject, wantSubject)
	}
	if strings.Contains(got.HTML, "<script>") || strings.Contains(got.HTML, "<img") {
		t.Errorf("html body carries live markup: %q", got.HTML)
	}
	if !strings.Contains(got.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(got.HTML, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("html body does not show the escaped label and body: %q", got.HTML)
	}
}

func TestSMTPReplyClassification(t *testing.T) {
	cases := []struct {
		code      int
		stage     smtptest.Stage
		permanent bool
	}{
		{550, smtptest.StageMail, true},
		{550, smtptest.StageRcpt, true},
		{554, smtptest.StageData, true},
		{421, smtptest.StageMail, false},
		{450, smtptest.StageRcpt, false},
		{451, smtptest.StageData, false},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(time.Duration(c.code).String(), "ns", "")+"-stage"+string(rune('0'+c.stage)), func(t *testing.T) {
			ctx := context.Background()
			srv := smtptest.Start(t, smtptest.Config{})
			srv.FailNext(1, smtptest.Failure{Code: c.code, Message: "mailbox says no", Stage: c.stage})
			m, err := builder(t, templates(t)).Build(ctx, event(19, "42", "comment_added", "Ana", nil), bob)
			if err != nil {
				t.Fatal(err)
			}
			s := sender(t, srv)
			err = s.Send(ctx, m)
			var se *email.SendError
			if !errors.As(err, &se) {
				t.Fatalf("Send error %v is not a *SendError", err)
			}
			if se.Code != c.code || se.Permanent != c.permanent || email.IsPermanent(err) != c.permanent {
				t.Errorf("code %d permanent %v (IsPermanent %v), want %d %v", se.Code, se.Permanent, email.IsPermanent(err), c.code, c.permanent)
			}
			if errors.Is(err, email.ErrPermanent) == errors.Is(err, email.ErrTemporary) {
				t.Errorf("error %v must match exactly one of ErrPermanent and ErrTemporary", err)
			}
			if !strings.Contains(se.Text, "mailbox says no") || !strings.Contains(err.Error(), "mailbox says no") {
				t.Errorf("error text %q / %q lacks the server's reply", se.Text, err)
			}
			if se.MessageID != m.MessageID || se.Recipient != "bob@example.com" {
				t.Errorf("error names %q to %q", se.MessageID, se.Recipient)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatalf("refused transaction delivered %d messages", n)
			}
			// The retry a temporary failure earns lands, with the same Message-ID.
			if !c.permanent {
				if err := s.Send(ctx, m); err != nil {
					t.Fatal(err)
				}
				msgs, err := srv.WaitFor(1, wait)
				if err != nil {
					t.Fatal(err)
				}
				if got := msgs[0].Header.Get("Message-Id"); got != "<"+m.MessageID+">" {
					t.Errorf("retried mail has Message-ID %q, want <%s>", got, m.MessageID)
				}
			}
			if srv.Transactions() < 1 {
				t.Errorf("server saw no transaction")
			}
		})
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // hold the connection open and never greet
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	})
	addr := ln.Addr().(*net.TCPAddr)
	s, err := email.NewSender(email.Config{Host: "127.0.0.1", Port: addr.Port, TLS: email.TLSNone, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder(t, templates(t)).Build(context.Background(), event(20, "42", "comment_added", "Ana", nil), bob)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), m)
	var se *email.SendError
	if !errors.As(err, &se) || se.Permanent || !errors.Is(err, email.ErrTemporary) || se.Code != 0 {
		t.Fatalf("silent server gave %#v (%v), want a temporary SendError without a code", se, err)
	}
}

func TestConnectionRefusedIsTemporary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s, err := email.NewSender(email.Config{Host: "127.0.0.1", Port: port, TLS: email.TLSNone, Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder(t, templates(t)).Build(context.Background(), event(21, "42", "comment_added", "Ana", nil), bob)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), m); err == nil || email.IsPermanent(err) || !errors.Is(err, email.ErrTemporary) {
		t.Fatalf("refused connection gave %v, want a temporary error", err)
	}
}

func TestAuthOverSTARTTLS(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{TLS: true, Username: "mailer", Password: "s3cret"})
	m, err := builder(t, templates(t)).Build(ctx, event(22, "42", "comment_added", "Ana", nil), bob)
	if err != nil {
		t.Fatal(err)
	}
	cfg := email.Config{
		Host: srv.Host(), Port: srv.Port(), TLS: email.TLSMandatory, Timeout: wait,
		TLSConfig: &tls.Config{RootCAs: srv.RootCAs(), MinVersion: tls.VersionTLS12},
		Username:  "mailer", Password: "s3cret",
	}
	s, err := email.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	msgs, err := srv.WaitFor(1, wait)
	if err != nil {
		t.Fatal(err)
	}
	if !msgs[0].TLS || msgs[0].User != "mailer" {
		t.Errorf("delivered with TLS %v as %q, want STARTTLS as mailer", msgs[0].TLS, msgs[0].User)
	}

	cfg.Password = "wrong"
	s, err = email.NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(ctx, m)
	var se *email.SendError
	if !errors.As(err, &se) || !se.Permanent || se.Code != 535 {
		t.Fatalf("wrong password gave %v, want a permanent 535", err)
	}
}

func TestMandatoryTLSNeverSendsInTheClear(t *testing.T) {
	ctx := context.Background()
	srv := smtptest.Start(t, smtptest.Config{}) // offers no STARTTLS
	m, err := builder(t, templates(t)).Build(ctx, event(23, "42", "comment_added", "Ana", nil), bob)
	if err != nil {
		t.Fatal(err)
	}
	s, err := email.NewSender(email.Config{Host: srv.Host(), Port: srv.Port(), Timeout: wait})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, m); err == nil {
		t.Fatal("TLSMandatory sent to a server without STARTTLS")
	}
	if n := srv.Transactions(); n != 0 {
		t.Fatalf("server saw %d transactions, want none", n)
	}
}

func TestNewSenderRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]email.Config{
		"no host":    {},
		"bad port":   {Host: "smtp.example.com", Port: 70000},
		"bad policy": {Host: "smtp.example.com", TLS: email.TLSPolicy(9)},
		"bad auth":   {Host: "smtp.example.com", Auth: "MAGIC"},
	} {
		if _, err := email.NewSender(cfg); !errors.Is(err, email.ErrInvalidConfig) {
			t.Errorf("%s: NewSender error %v, want ErrInvalidConfig", name, err)
		}
	}
}
