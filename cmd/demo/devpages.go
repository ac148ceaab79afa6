package main

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

type mailView struct {
	From, To, Subject, Text, HTML string
	Headers                       []string
	ThreadHeaders                 []string
}

type mailboxData struct {
	Dev      bool
	Messages []mailView
	Pager
}

// devPageSize is how many mails or Slack messages a dev page shows.
const devPageSize = 20

// Pager links a dev page's neighbours (newest first; page 1 is the newest).
type Pager struct {
	Page, Pages       int
	Newer, Older      string
	Total, From, Upto int
}

// pageOf returns the bounds of the requested page of n items and its links.
func pageOf(r *http.Request, n int) (lo, hi int, p Pager) {
	p.Total = n
	p.Pages = max(1, (n+devPageSize-1)/devPageSize)
	p.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	lo, hi = (p.Page-1)*devPageSize, min(p.Page*devPageSize, n)
	p.From, p.Upto = lo+1, hi
	if p.Page > 1 {
		p.Newer = r.URL.Path + "?page=" + strconv.Itoa(p.Page-1)
	}
	if p.Page < p.Pages {
		p.Older = r.URL.Path + "?page=" + strconv.Itoa(p.Page+1)
	}
	return lo, hi, p
}

// devMailbox shows what the in-process SMTP server received, newest first.
func (a *App) devMailbox(w http.ResponseWriter, r *http.Request) {
	d := mailboxData{Dev: a.fan != nil && a.fan.devSMTP != nil}
	if d.Dev {
		msgs, err := a.ownMail(r, a.fan.devSMTP.Messages())
		if err != nil {
			a.fail(w, r, err)
			return
		}
		slices.Reverse(msgs)
		lo, hi, p := pageOf(r, len(msgs))
		d.Pager = p
		for _, m := range msgs[lo:hi] {
			d.Messages = append(d.Messages, mailOf(m))
		}
	}
	a.render(w, r, http.StatusOK, "mailbox", "Dev mailbox", "mailbox", d)
}

// ownMail keeps the mails to a person of the request's organisation: the
// dev SMTP server is the whole demo's, standing for each organisation's
// own mailboxes.
func (a *App) ownMail(r *http.Request, msgs []smtptest.Message) ([]smtptest.Message, error) {
	var emails []string
	if err := a.inOrg(r.Context()).Model(&User{}).Pluck("email", &emails).Error; err != nil {
		return nil, err
	}
	return slices.DeleteFunc(msgs, func(m smtptest.Message) bool {
		return !slices.ContainsFunc(m.To, func(to string) bool {
			return slices.ContainsFunc(emails, func(e string) bool { return strings.Contains(strings.ToLower(to), strings.ToLower(e)) })
		})
	}), nil
}

// ownSlack keeps the Slack messages of the request's organisation's
// threads (slack_threads is per tenant): the fake Slack is the whole
// demo's, standing for each organisation's own workspace.
func (a *App) ownSlack(r *http.Request, msgs []slacktest.Message) ([]slacktest.Message, error) {
	var ts []string
	if err := a.db.WithContext(r.Context()).Table("slack_threads").Where("tenant_id = ?", strconv.FormatInt(orgOf(r.Context()), 10)).
		Pluck("ts", &ts).Error; err != nil {
		return nil, err
	}
	return slices.DeleteFunc(msgs, func(m slacktest.Message) bool {
		thread := m.ThreadTS
		if thread == "" {
			thread = m.TS
		}
		return !slices.Contains(ts, thread)
	}), nil
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
	Pager
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
		msgs, err := a.ownSlack(r, a.fan.devSlack.Messages())
		if err != nil {
			a.fail(w, r, err)
			return
		}
		slices.Reverse(msgs)
		lo, hi, p := pageOf(r, len(msgs))
		d.Pager = p
		for _, m := range msgs[lo:hi] {
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
