package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/email"
	"github.com/tidingsdev/tidings/inbox/email/smtptest"
	"github.com/tidingsdev/tidings/inbox/locale"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
	"github.com/tidingsdev/tidings/web/notifycenter"
)

// Inbox names: part of task IDs and ledger rows, so they stay fixed.
const (
	inboxNotify      = "notify"
	inboxEmail       = "email"
	inboxSlack       = "slack"
	inboxSlackDigest = "slack-digest"
)

// slackDigestChannel gets the batched Slack messages.
const slackDigestChannel = "#issues-digest"

// slackChannel is where the demo posts issue events.
const slackChannel = "#issues"

// fanout is the demo's own inboxes (email, Slack, the Slack digest, web
// push, SMS, mobile push, chat), which the tidings client's worker runs
// next to its in-app inbox, and in dev mode the local SMTP server, fake
// Slack API and channel peers they deliver to.
type fanout struct {
	inboxes []inbox.Inbox // for tidings.Config.Inboxes

	mailer      *email.Sender
	builder     *email.Builder
	unsubscribe *email.UnsubscribeHandler
	poster      *slackinbox.Poster

	// Batching: the wording catalog and the inboxes that batch (their
	// flushes are scheduled and swept by the tidings client).
	catalog     *locale.Catalog
	mail        *email.Inbox
	slackDigest *slackinbox.Inbox

	logger *slog.Logger

	devSMTP  *smtptest.Server  // nil unless dev mode in a worker process
	devSlack *slacktest.Server // nil unless dev mode in a worker process
	peers    *devPeers         // SMS, mobile push and chat peers; nil unless dev mode in a worker process

	slackURL, slackToken string // the Slack API the inbox and actions use

	push *notifycenter.PushConfig // "notify me on this browser" (push.go)
}

// devSlackToken is the fake Slack API's token in dev mode.
const devSlackToken = "xoxb-tidings-demo"

// quietFilter accepts the issue domain's actions worth telling people
// about: not views.
func quietFilter(d *activity.Domain) inbox.Filter {
	return inbox.On(d.Name(), feedActions(d)...)
}

func (a *App) startFanout(ctx context.Context) error {
	f := &fanout{}
	a.fan = f
	var err error
	logger := slog.New(slog.NewTextHandler(logWriter(a.cfg.Log), &slog.HandlerOptions{Level: slog.LevelWarn}))
	f.logger = logger
	if f.catalog, err = newCatalog(); err != nil {
		return err
	}

	// Email: the dev SMTP server, or the configured one.
	smtpHost, smtpPort, tlsPolicy := "", 0, email.TLSMandatory
	webOnly := a.cfg.Role == RoleWeb
	if !a.cfg.NoDev && webOnly {
		// The dev servers run in the worker, which sends; this process
		// only needs the same inboxes and actions to check rules and serve
		// unsubscribe links, and never sends.
		smtpHost, smtpPort, tlsPolicy = "127.0.0.1", 25, email.TLSNone
	} else if !a.cfg.NoDev {
		var err error
		if f.devSMTP, err = smtptest.NewServer(smtptest.Config{Domain: "tidings-demo.localhost"}); err != nil {
			return fmt.Errorf("dev SMTP server: %w", err)
		}
		smtpHost, smtpPort, tlsPolicy = f.devSMTP.Host(), f.devSMTP.Port(), email.TLSNone
	} else if a.cfg.SMTPAddr != "" {
		host, port, err := net.SplitHostPort(a.cfg.SMTPAddr)
		if err != nil {
			return fmt.Errorf("-smtp %q: %w (use host:port)", a.cfg.SMTPAddr, err)
		}
		smtpHost = host
		smtpPort, _ = strconv.Atoi(port)
		if tlsPolicy, err = parseTLSPolicy(a.cfg.SMTPTLS); err != nil {
			return err
		}
	}
	if smtpHost != "" {
		var err error
		if f.mailer, err = email.NewSender(email.Config{Host: smtpHost, Port: smtpPort, TLS: tlsPolicy, Timeout: 10 * time.Second, HELO: "tidings-demo.localhost",
			Username: a.cfg.SMTPUser, Password: a.cfg.SMTPPassword, Auth: email.AuthMethod(a.cfg.SMTPAuth)}); err != nil {
			return err
		}
		if !webOnly { // a web process never sends: nothing of its own to check
			if err := checkSMTP(ctx, f.mailer, logger); err != nil {
				return err
			}
		}
		tpls := email.NewTemplates(email.TemplatesConfig{})
		if err := registerMailTemplates(tpls); err != nil {
			return err
		}
		if f.unsubscribe, err = email.NewUnsubscribeHandler(email.UnsubscribeConfig{
			BaseURL: a.cfg.BaseURL + "/unsubscribe", Secrets: [][]byte{a.cfg.Secret}, DB: a.db, Logger: logger,
			PreferencesURL: a.cfg.BaseURL + prefsPrefix + "/",
		}); err != nil {
			return err
		}
		if f.builder, err = email.NewBuilder(email.BuilderConfig{
			From:        "tidings demo <notify@tidings-demo.localhost>",
			Templates:   tpls,
			Unsubscribe: f.unsubscribe.UnsubscribeURL,
			SubjectURL:  func(ev activity.Event) string { return a.cfg.BaseURL + "/issues/" + ev.SubjectID },
			SubjectName: a.issueTitle,
			Now:         a.cfg.Now,
			Catalog:     f.catalog,
			DigestIn:    map[string]email.DigestTemplate{"de": germanDigest},
		}); err != nil {
			return err
		}
	}

	// Slack: the fake Slack API, or the configured one.
	slackURL, token := a.cfg.SlackURL, a.cfg.SlackToken
	if !a.cfg.NoDev && webOnly {
		slackURL, token = "http://127.0.0.1:1/api/", devSlackToken // never called from the web process
	} else if !a.cfg.NoDev {
		f.devSlack = slacktest.NewServer(slacktest.Config{Token: devSlackToken})
		slackURL, token = f.devSlack.APIURL(), devSlackToken
	}
	f.slackURL, f.slackToken = slackURL, token
	// Posts to Slack keep its pace (slackinbox.DefaultChannelRate, one a
	// second per channel). The fake Slack API has no rate limit: pacing it
	// would only queue the seed's ~30 posts to #issues for half a minute,
	// and a new event's post waits for its issue's earlier ones (one
	// thread, in event order), so it would wait for the whole seed.
	var slackRate time.Duration
	if !a.cfg.NoDev {
		slackRate = -1
	}
	if token != "" {
		router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: slackChannel})
		if err != nil {
			return err
		}
		if f.poster, err = slackinbox.NewPoster(slackinbox.Config{
			Token: token, APIURL: slackURL, Router: router, ChannelRate: slackRate,
			Threads: slackinbox.NewGormThreads(a.db), Logger: logger,
		}); err != nil {
			return err
		}
	}

	var inboxes []inbox.Inbox
	if f.mailer != nil {
		mail, err := email.NewInbox(email.InboxConfig{
			Name: inboxEmail, Accepts: inbox.On(a.issues.Name(), mailActions...),
			Builder: f.builder, Transport: f.mailer, Recipients: a.mailRecipients,
			Logger: logger, Now: a.cfg.Now, Defaults: a.defaults, // retried for a day (email's window)
			DB: a.db, Batching: &email.BatchingConfig{}, // who chose a daily digest gets one
		})
		if err != nil {
			return err
		}
		inboxes = append(inboxes, mail)
		f.mail = mail
	}
	if f.poster != nil {
		sl, err := slackinbox.NewInbox(slackinbox.InboxConfig{Name: inboxSlack, Accepts: quietFilter(a.issues), Publisher: f.poster}) // retried for 4h (Slack's window)
		if err != nil {
			return err
		}
		inboxes = append(inboxes, sl)
		// #issues-digest gets one message per issue per 5-minute window.
		router, err := slackinbox.NewRouter(slackinbox.RouterConfig{Default: slackDigestChannel})
		if err != nil {
			return err
		}
		digestPoster, err := slackinbox.NewPoster(slackinbox.Config{Token: token, APIURL: slackURL, Router: router, ChannelRate: slackRate, Threads: slackinbox.NewGormThreads(a.db), Logger: logger})
		if err != nil {
			return err
		}
		f.slackDigest, err = slackinbox.NewInbox(slackinbox.InboxConfig{Name: inboxSlackDigest, Accepts: quietFilter(a.issues), Publisher: digestPoster,
			Batching: &slackinbox.BatchingConfig{DB: a.db, Schedule: inbox.FixedWindow(5 * time.Minute), Catalog: f.catalog, Now: a.cfg.Now}})
		if err != nil {
			return err
		}
		inboxes = append(inboxes, f.slackDigest)
	}
	push, pushConfig, err := a.newWebPush()
	if err != nil {
		return err
	}
	f.push = pushConfig
	f.inboxes = append(inboxes, push)
	channels, err := a.channelInboxes(ctx) // SMS, mobile push, chat (channels.go)
	if err != nil {
		return err
	}
	f.inboxes = append(f.inboxes, channels...)
	return a.startHistory()
}

// recipients are the issue's subscribers (author, assignee, commenters),
// as user IDs; the inboxes drop the actor. (The in-app inbox asks the same
// in SQL: tidings.InApp.Recipients.)
func (a *App) recipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]string, error) {
	id, err := strconv.ParseInt(ev.SubjectID, 10, 64)
	if err != nil {
		return nil, inbox.Permanent(fmt.Errorf("issue id %q is not a number", ev.SubjectID))
	}
	var ids []int64
	if err := db.WithContext(ctx).Model(&Subscriber{}).Where("issue_id = ?", id).Order("user_id").Pluck("user_id", &ids).Error; err != nil {
		return nil, err
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out, nil
}

// mailActions are the actions mailed to subscribers.
var mailActions = []string{ActionIssueOpened, ActionCommentAdded, ActionLabelAdded, ActionAssigned, ActionStatusChanged, ActionIssueClosed, ActionNoActivity}

// mailRecipients are the issue's subscribers with their addresses; the
// email inbox drops the actor and whoever muted the action.
func (a *App) mailRecipients(ctx context.Context, db *gorm.DB, ev activity.Event) ([]email.Recipient, error) {
	ids, err := a.recipients(ctx, db, ev)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	var users []User
	if err := db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&users).Error; err != nil {
		return nil, err
	}
	out := make([]email.Recipient, len(users))
	for i, u := range users {
		out[i] = email.Recipient{ID: strconv.FormatInt(u.ID, 10), Name: u.Name, Email: u.Email, Locale: u.Locale, Location: zone(u.TimeZone)}
	}
	return out, nil
}

func (f *fanout) close() {
	if f == nil {
		return
	}
	if f.devSMTP != nil {
		f.devSMTP.Close()
	}
	if f.devSlack != nil {
		f.devSlack.Close()
	}
	f.peers.close()
}

// logWriter adapts Config.Log to the io.Writer slog's handler wants.
type logWriter func(format string, args ...any)

func (l logWriter) Write(p []byte) (int, error) {
	l("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// issueTitle names an issue in mail ("Login fails", not "issue #1").
func (a *App) issueTitle(ctx context.Context, ev activity.Event) (string, error) {
	titles, err := a.titlesOf(ctx, parseIDs([]string{ev.SubjectID}))
	if err != nil {
		return "", err
	}
	if t := titles[ev.SubjectID]; t != "" {
		return t, nil
	}
	return "issue #" + ev.SubjectID, nil
}

func registerMailTemplates(t *email.Templates) error {
	if err := t.Register("issue", email.AnyAction, email.Template{
		Subject: `{{.Actor.Label}}: {{humanize .Event.Action}} on {{.SubjectName}}`,
		Text: `{{.Actor.Label}}: {{humanize .Event.Action}} on {{.SubjectName}}
{{with .URL}}
Open the issue: {{.}}
{{end}}{{with .UnsubscribeURL}}
Stop these mails: {{.}}
{{end}}`,
		HTML: `<p><strong>{{.Actor.Label}}</strong>: {{humanize .Event.Action}} on {{.SubjectName}}</p>
{{with .URL}}<p><a href="{{.}}">Open the issue</a></p>{{end}}
{{with .UnsubscribeURL}}<p><small><a href="{{.}}">Stop these mails</a></small></p>{{end}}`,
	}); err != nil {
		return err
	}
	return t.Register("issue", ActionCommentAdded, email.Template{
		Subject: `{{.Actor.Label}} commented on {{.SubjectName}}`,
		Text: `{{.Actor.Label}} commented on {{.SubjectName}}:

{{with .Record}}{{.Label}}{{end}}
{{with .URL}}
Open the issue: {{.}}
{{end}}{{with .UnsubscribeURL}}
Stop mails about comments: {{.}}
{{end}}`,
		HTML: `<p><strong>{{.Actor.Label}}</strong> commented on {{.SubjectName}}:</p>
<blockquote>{{with .Record}}{{.Label}}{{end}}</blockquote>
{{with .URL}}<p><a href="{{.}}">Open the issue</a></p>{{end}}
{{with .UnsubscribeURL}}<p><small><a href="{{.}}">Stop mails about comments</a></small></p>{{end}}`,
	})
}
