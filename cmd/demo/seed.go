package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/device"
)

// seedLock is the advisory lock key that keeps two demos starting at once
// from seeding twice.
const seedLock = 0x7469_6469_6e67_73 // "tidings"

// seed fills an empty database with a few users, projects and issues, and
// their history, recorded through the activity API as it happened, days ago.
func (a *App) seed(ctx context.Context) error {
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", seedLock).Error; err != nil {
			return err
		}
		s := seeder{a: a, ctx: activity.WithMetadata(ctx, activity.Metadata{Source: "seed", RequestID: "seed"}), tx: tx, now: a.cfg.Now()}
		var n int64
		if err := tx.Model(&User{}).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			a.cfg.Log("seeding an empty database")
			return s.run()
		}
		// A database seeded before organisations has only Acme (migration
		// 00019): it gets the second organisation once.
		if err := tx.Model(&Organisation{}).Count(&n).Error; err != nil || n > 1 {
			return err
		}
		a.cfg.Log("seeding the second organisation")
		globex := &Organisation{Name: "Globex", CreatedAt: s.now}
		s.create(globex)
		s.globex(globex)
		return s.err
	})
}

type seeder struct {
	a   *App
	ctx context.Context
	tx  *gorm.DB
	now time.Time
	err error
}

func (s *seeder) ago(d time.Duration) time.Time { return s.now.Add(-d) }

func (s *seeder) create(v any) {
	if s.err == nil {
		s.err = s.tx.Create(v).Error
	}
}

func (s *seeder) record(at time.Time, issue *Issue, actor *User, action string, opts ...activity.Option) {
	if s.err != nil {
		return
	}
	opts = append(opts, activity.Actor(actor), activity.OccurredAt(at), activity.InTenant(issue.OrgID))
	_, s.err = s.a.issues.RecordEvent(s.ctx, s.tx, issue.ID, action, opts...)
}

func (s *seeder) issue(p *Project, author *User, at time.Time, title, body string) *Issue {
	is := &Issue{OrgID: p.OrgID, ProjectID: p.ID, Title: title, Body: body, Status: StatusOpen, AuthorID: author.ID, CreatedAt: at, UpdatedAt: at}
	s.create(is)
	s.create(&Subscriber{IssueID: is.ID, UserID: author.ID, Reason: "author", CreatedAt: at})
	s.record(at, is, author, ActionIssueOpened, activity.Extra{"title": title})
	return is
}

func (s *seeder) comment(is *Issue, author *User, at time.Time, body string) {
	c := &Comment{IssueID: is.ID, AuthorID: &author.ID, Body: body, CreatedAt: at}
	s.create(c)
	if s.err == nil {
		s.err = subscribe(s.tx, is.ID, author.ID, "commented")
	}
	s.record(at, is, author, ActionCommentAdded, activity.Record(c), activity.Extra{"length": len([]rune(body))})
}

func (s *seeder) label(is *Issue, actor *User, at time.Time, name string) {
	l := &Label{ProjectID: is.ProjectID, Name: name}
	if s.err == nil {
		s.err = s.tx.Where(Label{ProjectID: is.ProjectID, Name: name}).FirstOrCreate(l).Error
	}
	s.create(&IssueLabel{IssueID: is.ID, LabelID: l.ID, CreatedAt: at})
	s.record(at, is, actor, ActionLabelAdded, activity.Record(l), activity.Extra{"name": name})
}

func (s *seeder) assign(is *Issue, actor, to *User, at time.Time) {
	if s.err == nil {
		s.err = s.tx.Model(is).Update("assignee_id", to.ID).Error
	}
	if s.err == nil {
		s.err = subscribe(s.tx, is.ID, to.ID, "assigned")
	}
	s.record(at, is, actor, ActionAssigned, activity.Record(to), activity.Extra{"from": "", "to": to.Name})
}

func (s *seeder) status(is *Issue, actor *User, at time.Time, to string) {
	from := is.Status
	if s.err == nil {
		s.err = s.tx.Model(is).Update("status", to).Error
	}
	action := ActionStatusChanged
	if to == StatusClosed {
		action = ActionIssueClosed
	}
	s.record(at, is, actor, action, activity.Extra{"from": from, "to": to})
}

// devices registers u's phone number and a device token of each mobile
// push service, in org (the dev pages show what they received).
func (s *seeder) devices(org int64, u *User, phone string) {
	id := strconv.FormatInt(u.ID, 10)
	apnsToken := sha256.Sum256([]byte("tidings demo apns " + u.Email))
	for _, d := range []device.Address{
		{Recipient: id, Kind: device.Phone, Address: phone, Label: "phone"},
		{Recipient: id, Kind: device.FCM, Address: "demo-fcm:" + strings.ReplaceAll(u.Email, "@", "."), Label: "Android"},
		{Recipient: id, Kind: device.APNs, Address: hex.EncodeToString(apnsToken[:]), Label: "iPhone"},
	} {
		if s.err == nil {
			_, s.err = device.Register(activity.WithTenant(s.ctx, org), s.tx, d)
		}
	}
}

func (s *seeder) run() error {
	// Two organisations, the demo's tenants: Acme's people see nothing of
	// Globex's projects, issues, events, notifications and rules, and the
	// other way round (switching user switches organisation).
	acme := &Organisation{Name: "Acme", CreatedAt: s.now}
	globex := &Organisation{Name: "Globex", CreatedAt: s.now}
	s.create(acme)
	s.create(globex)
	ana := &User{OrgID: acme.ID, Name: "Ana Lima", Email: "ana@example.com", SlackHandle: "ana"}
	ben := &User{OrgID: acme.ID, Name: "Ben Okafor", Email: "ben@example.com", SlackHandle: "ben"}
	chloe := &User{OrgID: acme.ID, Name: "Chloé Martin", Email: "chloe@example.com", SlackHandle: "chloe", Locale: "de", TimeZone: "Europe/Berlin"} // reads German
	dev := &User{OrgID: acme.ID, Name: "Dev Patel", Email: "dev@example.com", SlackHandle: "dev"}
	for _, u := range []*User{ana, ben, chloe, dev} {
		s.create(u)
	}
	// Chloé gets one daily digest at 08:00 her time, by mail and in the app
	// (a burst of comments is one row until then), in her organisation.
	for _, ch := range []string{inbox.ChannelEmail, inbox.ChannelApp} {
		if s.err == nil {
			s.err = s.a.defaults.SetChoice(activity.WithTenant(s.ctx, acme.ID), s.tx, strconv.FormatInt(chloe.ID, 10), ch, "issue", inbox.AnyAction, dailyDigest)
		}
	}
	// Ana has a phone: her number for SMS and her app's device tokens
	// (Android through FCM, iOS through APNs), so an event for her goes
	// out on every channel the demo has.
	s.devices(acme.ID, ana, "+1 415 555 0142")
	web := &Project{OrgID: acme.ID, Key: "WEB", Name: "Web app"}
	mob := &Project{OrgID: acme.ID, Key: "MOB", Name: "Mobile app"}
	s.create(web)
	s.create(mob)
	day := 24 * time.Hour

	login := s.issue(web, ana, s.ago(5*day), "Login fails on Safari 17", "After the update, pressing “Sign in” on Safari 17 does nothing. Chrome works.")
	s.label(login, ana, s.ago(5*day-time.Minute), "bug")
	s.label(login, ana, s.ago(5*day-2*time.Minute), "safari")
	s.assign(login, ana, ben, s.ago(4*day))
	s.comment(login, ben, s.ago(4*day-time.Hour), "I can reproduce it on macOS 14. The form's submit handler throws on a missing `requestSubmit`.")
	s.status(login, ben, s.ago(4*day-2*time.Hour), StatusInProgress)
	s.comment(login, chloe, s.ago(2*day), "Same on iOS 17, for what it is worth.")
	s.comment(login, ben, s.ago(3*time.Hour), "Fix is up for review.")

	dark := s.issue(web, chloe, s.ago(10*day), "Dark mode for the settings page", "The settings page ignores prefers-color-scheme.")
	s.label(dark, chloe, s.ago(10*day-time.Minute), "enhancement")

	export := s.issue(web, dev, s.ago(8*day), "Export issues as CSV", "Support asked for a CSV export of a project's issues.")
	s.assign(export, dev, dev, s.ago(8*day-time.Hour))
	s.comment(export, dev, s.ago(6*day), "Done: Projects → Export.")
	s.status(export, dev, s.ago(6*day-time.Minute), StatusClosed)

	push := s.issue(mob, ben, s.ago(3*day), "Push notifications arrive twice", "Every push shows up twice on Android 14.")
	s.label(push, ben, s.ago(3*day-time.Minute), "bug")
	s.label(push, ben, s.ago(3*day-2*time.Minute), "android")
	s.assign(push, ben, dev, s.ago(2*day))
	s.comment(push, dev, s.ago(day), "Two FCM tokens per device after the upgrade; dedupe on the server.")

	s.issue(mob, ana, s.ago(20*time.Hour), "Crash when rotating on the login screen", "Rotate the phone while the keyboard is open: the app closes.")

	s.globex(globex)
	return s.err
}

// globex seeds the second organisation: its own people, project and
// issues (titles start "Globex:" so a page showing them is easy to spot).
func (s *seeder) globex(org *Organisation) {
	greta := &User{OrgID: org.ID, Name: "Greta Holm", Email: "greta@globex.example", SlackHandle: "greta"}
	hiro := &User{OrgID: org.ID, Name: "Hiro Tanaka", Email: "hiro@globex.example", SlackHandle: "hiro"}
	s.create(greta)
	s.create(hiro)
	s.devices(org.ID, hiro, "+81 3 5555 0199")
	ops := &Project{OrgID: org.ID, Key: "OPS", Name: "Globex operations"}
	s.create(ops)
	day := 24 * time.Hour
	billing := s.issue(ops, greta, s.ago(6*day), "Globex: invoices double-charged in March", "Some March invoices were charged twice.")
	s.label(billing, greta, s.ago(6*day-time.Minute), "billing")
	s.assign(billing, greta, hiro, s.ago(5*day))
	s.comment(billing, hiro, s.ago(4*day), "Globex: the retry job ran twice after the outage.")
	s.comment(billing, greta, s.ago(2*time.Hour), "Globex: refunds are out, please confirm.")
	s.issue(ops, hiro, s.ago(30*time.Hour), "Globex: rotate the VPN certificates", "They expire at the end of the month.")
}
