package email

import (
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

// Message is one rendered mail to one recipient, ready for a Sender.
// Builder fills it; every field is plain text and the Sender encodes it.
type Message struct {
	From    *mail.Address
	To      Recipient
	Subject string // one line; RFC 2047-encoded on the wire when not ASCII
	Text    string
	HTML    string // "" for a text-only mail

	// MessageID, InReplyTo and References are msg-ids without angle brackets.
	MessageID  string
	InReplyTo  string
	References []string

	// UnsubscribeURL, when set, goes out as List-Unsubscribe with
	// List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058).
	UnsubscribeURL string

	Date time.Time
}

// UnsubscribeFunc returns the one-click unsubscribe URL for mails like this
// one to recipient to: the app decides whether it unsubscribes from the
// action, the subject or the domain. ev is nil for a digest. The URL must
// be absolute https (http only for localhost and loopback, for dev mode).
// Its handler must act on POST only (RFC 8058), so a link scanner's GET
// changes nothing.
type UnsubscribeFunc func(ctx context.Context, to Recipient, ev *activity.Event) (string, error)

// BuilderConfig configures a Builder.
type BuilderConfig struct {
	// From is the sender, "Tidings <notify@example.com>". Required.
	From string
	// Host is the right-hand side of Message-IDs and thread ids.
	// Default: the domain of From's address.
	Host string
	// Templates renders per-action mails. Required.
	Templates *Templates
	// SubjectURL links to an event's subject (Data.URL). Optional.
	SubjectURL func(ev activity.Event) string
	// SubjectName names an event's subject for people (Data.SubjectName,
	// "Login fails" rather than "issue 1"). Optional; an error is retried
	// with the job.
	SubjectName func(ctx context.Context, ev activity.Event) (string, error)
	// Unsubscribe produces List-Unsubscribe URLs. Optional: without it mails
	// carry no List-Unsubscribe header.
	Unsubscribe UnsubscribeFunc
	// Digest renders digests. Default DefaultDigestTemplate().
	Digest *DigestTemplate
	// Noun names n subjects of a domain in digest subjects.
	// Default: the domain for 1, the domain plus "s" otherwise ("2 issues").
	Noun func(domain string, n int) string
	// Now is the clock, used for the Date of a mail whose events carry no
	// OccurredAt. Default time.Now.
	Now func() time.Time
	// Catalog words digests in the reader's language (Recipient.Locale):
	// each event's line from its "<domain>.<action>.line" message, the
	// summary from "digest.subject" (plural on the count), times in the
	// reader's zone and locale (DigestItem.When). Keys it lacks in every
	// locale keep the templates' English. Optional.
	Catalog *locale.Catalog
	// DigestIn gives digest templates per locale (the catalog's locale a
	// reader matches); others use Digest. Optional.
	DigestIn map[string]DigestTemplate
}

// Builder turns events into Messages.
type Builder struct {
	cfg    BuilderConfig
	from   *mail.Address
	digest *compiledDigest
	// digestIn: compiled DigestIn, by locale
	digestIn map[string]*compiledDigest
}

// NewBuilder checks cfg and returns a Builder.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	if cfg.Templates == nil {
		return nil, fmt.Errorf("%w: BuilderConfig.Templates is nil; make one with NewTemplates", ErrInvalidConfig)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil || strings.ContainsAny(cfg.From, "\r\n") {
		return nil, fmt.Errorf("%w: BuilderConfig.From %q is not an address like \"Tidings <notify@example.com>\"", ErrInvalidConfig, cfg.From)
	}
	if cfg.Host == "" {
		cfg.Host = from.Address[strings.LastIndexByte(from.Address, '@')+1:]
	}
	if !hostPattern.MatchString(cfg.Host) {
		return nil, fmt.Errorf("%w: BuilderConfig.Host %q is not a host name like mail.example.com", ErrInvalidConfig, cfg.Host)
	}
	if cfg.Noun == nil {
		cfg.Noun = defaultNoun
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	dt := DefaultDigestTemplate()
	if cfg.Digest != nil {
		dt = *cfg.Digest
	}
	digest, err := compileDigest(dt)
	if err != nil {
		return nil, err
	}
	b := &Builder{cfg: cfg, from: from, digest: digest, digestIn: map[string]*compiledDigest{}}
	for l, src := range cfg.DigestIn {
		if cfg.Catalog == nil {
			return nil, fmt.Errorf("%w: BuilderConfig.DigestIn needs a Catalog to match readers to locales", ErrInvalidConfig)
		}
		if !slices.Contains(cfg.Catalog.Locales(), l) {
			return nil, fmt.Errorf("%w: BuilderConfig.DigestIn has locale %q, not declared in the Catalog (%s)", ErrInvalidConfig, l, strings.Join(cfg.Catalog.Locales(), ", "))
		}
		c, err := compileDigest(src)
		if err != nil {
			return nil, err
		}
		b.digestIn[l] = c
	}
	return b, nil
}

// Host returns the host used in Message-IDs.
func (b *Builder) Host() string { return b.cfg.Host }

// Build renders the mail telling to about ev. The same event and recipient
// always give the same Message-ID; the mail replies to the subject's thread
// id so clients group a subject's mails.
func (b *Builder) Build(ctx context.Context, ev activity.Event, to Recipient) (*Message, error) {
	if err := to.validate(); err != nil {
		return nil, err
	}
	d := Data{Event: ev, Actor: ev.Actor(), Record: ev.Record(), Extra: ev.ExtraMap(), Recipient: to}
	if b.cfg.SubjectURL != nil {
		d.URL = b.cfg.SubjectURL(ev)
	}
	if b.cfg.SubjectName != nil {
		name, err := b.cfg.SubjectName(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("email: name the subject of %s: %w", ev.Ref(), err)
		}
		d.SubjectName = name
	}
	unsub, err := b.unsubscribeURL(ctx, to, &ev)
	if err != nil {
		return nil, err
	}
	d.UnsubscribeURL = unsub
	r, err := b.cfg.Templates.Render(ev.Domain, ev.Action, d)
	if err != nil {
		return nil, err
	}
	thread := ThreadID(b.cfg.Host, ev.Domain, ev.SubjectID)
	return &Message{
		From:           b.from,
		To:             to,
		Subject:        r.Subject,
		Text:           r.Text,
		HTML:           r.HTML,
		MessageID:      MessageID(b.cfg.Host, ev.Ref(), to.Email),
		InReplyTo:      thread,
		References:     []string{thread},
		UnsubscribeURL: unsub,
		Date:           b.date(ev.OccurredAt),
	}, nil
}

func (b *Builder) date(t time.Time) time.Time {
	if t.IsZero() {
		return b.cfg.Now()
	}
	return t
}

func (b *Builder) unsubscribeURL(ctx context.Context, to Recipient, ev *activity.Event) (string, error) {
	if b.cfg.Unsubscribe == nil {
		return "", nil
	}
	raw, err := b.cfg.Unsubscribe(ctx, to, ev)
	if err != nil {
		return "", fmt.Errorf("email: unsubscribe URL for %s: %w", to.Email, err)
	}
	if raw == "" {
		return "", nil
	}
	if err := checkUnsubscribeURL(raw); err != nil {
		return "", err
	}
	return raw, nil
}

// checkUnsubscribeURL accepts absolute https URLs, and http ones on
// localhost or a loopback address (dev mode). The URL goes inside <...> in
// a header, so it must not hold spaces, control characters or '>'.
func checkUnsubscribeURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || strings.ContainsAny(raw, " <>\"\r\n\t") {
		return fmt.Errorf("%w: unsubscribe URL %q is not an absolute URL without spaces or angle brackets", ErrInvalidConfig, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("%w: unsubscribe URL %q must use https (RFC 8058); http is allowed only for localhost", ErrInvalidConfig, raw)
}

func defaultNoun(domain string, n int) string {
	if n == 1 {
		return humanize(domain)
	}
	return humanize(domain) + "s"
}
