package main

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/tidingsdev/tidings/inbox/email/smtptest"
)

type mailView struct {
	From, To, Subject, Text, HTML string
	Headers                       []string
	ThreadHeaders                 []string
}

type mailboxData struct {
	Dev      bool
	Messages []mailView
}

// devMailbox shows what the in-process SMTP server received, newest first.
func (a *App) devMailbox(w http.ResponseWriter, r *http.Request) {
	d := mailboxData{Dev: a.fan != nil && a.fan.devSMTP != nil}
	if d.Dev {
		msgs := a.fan.devSMTP.Messages()
		slices.Reverse(msgs)
		for _, m := range msgs {
			d.Messages = append(d.Messages, mailOf(m))
		}
	}
	a.render(w, r, http.StatusOK, "mailbox", "Dev mailbox", "mailbox", d)
}

func mailOf(m smtptest.Message) mailView {
	v := mailView{From: m.From, To: strings.Join(m.To, ", "), Subject: m.Subject, Text: m.Text, HTML: m.HTML, Headers: m.HeaderLines()}
	for _, h := range []string{"Message-Id", "In-Reply-To", "References", "List-Unsubscribe"} {
		if s := m.Header.Get(h); s != "" {
			v.ThreadHeaders = append(v.ThreadHeaders, h+": "+s)
		}
	}
	return v
}

type slackView struct {
	Channel, TS, ThreadTS string
	Text                  string   // as a Slack client shows it: entities decoded
	Raw                   []string // as Slack received it
}

type slackData struct {
	Dev      bool
	Messages []slackView
}

// slackUnescape decodes the three entities Slack's escaping uses, as a
// Slack client does before showing text; the page escapes it again.
var slackUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// slackControl matches Slack's control sequences: <!date^...|fallback>,
// <url|text>, <@U123>. User text cannot hold one: it arrives escaped.
var slackControl = regexp.MustCompile(`<([^<>]*)>`)

// slackShow renders mrkdwn text roughly as a Slack client shows it: control
// sequences by their label, entities decoded. The page escapes the result.
func slackShow(s string) string {
	s = slackControl.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		if _, label, ok := strings.Cut(inner, "|"); ok {
			return label
		}
		return inner
	})
	return slackUnescape.Replace(s)
}

// devSlack shows what the fake Slack API received, newest first.
func (a *App) devSlack(w http.ResponseWriter, r *http.Request) {
	d := slackData{Dev: a.fan != nil && a.fan.devSlack != nil}
	if d.Dev {
		msgs := a.fan.devSlack.Messages()
		slices.Reverse(msgs)
		for _, m := range msgs {
			raw := m.Texts()
			shown := make([]string, 0, len(raw))
			for _, t := range raw {
				if t != "" {
					shown = append(shown, slackShow(t))
				}
			}
			d.Messages = append(d.Messages, slackView{Channel: m.Channel, TS: m.TS, ThreadTS: m.ThreadTS,
				Text: strings.Join(shown, "\n"), Raw: raw})
		}
	}
	a.render(w, r, http.StatusOK, "slack", "Dev Slack", "slack", d)
}
