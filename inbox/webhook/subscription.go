package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/internal/pgarray"
)

// Subscription is a domain-wide webhook: every event of Domain (or of its
// Actions, when some are listed) is posted to URL as a CloudEvent, signed
// with the subscription's secret.
type Subscription struct {
	ID        int64
	Domain    string
	Actions   []string // empty: every action
	URL       string
	Enabled   bool
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Tenant is the tenant the subscription belongs to, from the context
	// it was made under (activity.WithTenant): it gets that tenant's events
	// only, and only that tenant's calls see or change it. "" for an
	// app-wide subscription, which gets every event of its domain.
	Tenant string
}

// SubscriptionSpec is a subscription to create.
type SubscriptionSpec struct {
	Domain  string
	Actions []string
	// URL is an https URL on a public address: private, loopback and
	// link-local targets are refused (Client.CheckURL).
	URL string
	// Secret signs each delivery (SignatureHeader). At least 16 bytes;
	// stored sealed with the Keyring.
	Secret string
}

// SubscriptionsConfig configures Subscriptions. Zero fields take the
// documented defaults.
type SubscriptionsConfig struct {
	// DB holds webhook_subscriptions and the deliveries ledger. Required.
	DB *gorm.DB
	// Keyring seals the subscriptions' secrets at rest. Required.
	Keyring *Keyring
	// Domains are the domains that may be subscribed to. Required.
	Domains []*activity.Domain
	// Source is the CloudEvents source of the deliveries, a URI reference
	// naming the app ("/tidings/tracker"). Required.
	Source string
	// Client posts the deliveries. Default NewClient(Config{}): https to
	// public addresses only.
	Client *Client
	// Name is the inbox's name. Default "webhooks".
	Name string
	// Policy is the inbox's queue, retries and backoff. Default: queue
	// "webhooks", retried by time for inbox.ChatRetryWindow (4 hours,
	// backoff 5s to 15 minutes) unless MaxRetry or RetryWindow is set.
	Policy inbox.Policy
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Subscriptions stores domain-wide webhook subscriptions and is the inbox
// that delivers to them: give it to the worker. Each event of a
// subscribed domain becomes one job; Process posts the event's CloudEvent
// (activity.CloudEvent, Content-Type application/cloudevents+json) to each
// enabled subscription that wants its action, through the SSRF-safe
// Client, signed (SignatureHeader, TimestampHeader) with the
// subscription's secret, with an Idempotency-Key that is the same on every
// attempt. Each subscription's delivery is claimed and marked in the
// deliveries ledger (Delivery.Send): a retried job posts only to the
// subscriptions that have not answered 2xx yet. A 5xx, 408, 429 or network
// failure is retried like any inbox job, then becomes a dead letter; a
// refused address or another 4xx is not retried.
type Subscriptions struct {
	cfg     SubscriptionsConfig
	domains map[string]*activity.Domain
	names   []string
}

// DefaultSubscriptionsQueue is the default queue of subscription deliveries.
const DefaultSubscriptionsQueue = "webhooks"

// ErrSubscriptionNotFound is returned when no subscription has the ID.
var ErrSubscriptionNotFound = errors.New("webhook: subscription not found")

// ErrInvalidSubscription is returned (wrapped, saying what is wrong) for a
// subscription that cannot be stored.
var ErrInvalidSubscription = errors.New("webhook: invalid subscription")

// NewSubscriptions checks cfg and returns the store and inbox.
func NewSubscriptions(cfg SubscriptionsConfig) (*Subscriptions, error) {
	bad := func(field, reason string) error {
		return &inbox.ConfigError{Field: "SubscriptionsConfig." + field, Reason: reason}
	}
	switch {
	case cfg.DB == nil:
		return nil, bad("DB", "is nil")
	case cfg.Keyring == nil:
		return nil, bad("Keyring", "is nil: secrets are stored sealed; give a Keyring")
	case len(cfg.Domains) == 0:
		return nil, bad("Domains", "is empty")
	}
	if _, err := activity.NewCloudEvent(activity.Event{ID: 1, Domain: "d", Action: "a"}, cfg.Source); err != nil {
		return nil, bad("Source", err.Error())
	}
	if cfg.Client == nil {
		cfg.Client = NewClient(Config{})
	}
	if cfg.Name == "" {
		cfg.Name = "webhooks"
	}
	if cfg.Policy.Queue == "" {
		cfg.Policy.Queue = DefaultSubscriptionsQueue
	}
	if cfg.Policy.MaxRetry == 0 && cfg.Policy.RetryWindow == 0 {
		// Retried by time; a host that does not answer is held by its
		// circuit breaker (client errors name the host's sink).
		cfg.Policy.RetryWindow = inbox.ChatRetryWindow
		if cfg.Policy.Backoff == nil {
			cfg.Policy.Backoff = inbox.ExponentialBackoff(5*time.Second, 15*time.Minute)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Subscriptions{cfg: cfg, domains: map[string]*activity.Domain{}}
	for _, d := range cfg.Domains {
		s.domains[d.Name()] = d
		s.names = append(s.names, d.Name())
	}
	sort.Strings(s.names)
	return s, nil
}

const secretPurpose = "webhook_subscriptions.secret"

// Subscribe checks spec (the URL is looked up now, and refused unless every
// address is public) and stores it, its secret sealed.
func (s *Subscriptions) Subscribe(ctx context.Context, by string, spec SubscriptionSpec) (Subscription, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSubscription, fmt.Sprintf(format, args...))
	}
	d := s.domains[spec.Domain]
	if d == nil {
		return Subscription{}, bad("domain %s is not among the subscribable domains (%s)", quote(spec.Domain), strings.Join(s.names, ", "))
	}
	for _, a := range spec.Actions {
		if err := d.CheckAction(a); err != nil {
			return Subscription{}, fmt.Errorf("%w: %w", ErrInvalidSubscription, err)
		}
	}
	if by == "" || len(by) > 128 {
		return Subscription{}, bad("say who subscribes in 1 to 128 bytes (\"users:3\")")
	}
	if len(spec.Secret) < 16 || len(spec.Secret) > 256 || !utf8.ValidString(spec.Secret) {
		return Subscription{}, bad("the secret must be 16 to 256 bytes of text; it signs every delivery")
	}
	if err := s.cfg.Client.CheckURL(ctx, spec.URL); err != nil {
		return Subscription{}, fmt.Errorf("%w: %w", ErrInvalidSubscription, err)
	}
	sealed, err := s.cfg.Keyring.Seal([]byte(spec.Secret), secretPurpose)
	if err != nil {
		return Subscription{}, err
	}
	actions := make([]string, 0, len(spec.Actions))
	for _, a := range spec.Actions {
		actions = append(actions, d.Canonical(a))
	}
	now := s.cfg.Now()
	var id int64
	if err := s.cfg.DB.WithContext(ctx).Raw(`INSERT INTO webhook_subscriptions (domain, actions, url, secret, created_by, created_at, updated_at, tenant_id)
VALUES (?, ?::text[], ?, ?, ?, ?, ?, NULLIF(?, '')) RETURNING id`, spec.Domain, pgarray.Text(actions), spec.URL, sealed, by, now, now, inbox.TenantOf(ctx)).Scan(&id).Error; err != nil {
		return Subscription{}, fmt.Errorf("webhook: subscribe: %w", err)
	}
	return s.Get(ctx, id)
}

// SetEnabled pauses or resumes a subscription.
func (s *Subscriptions) SetEnabled(ctx context.Context, id int64, enabled bool) error {
	cond, targs := inbox.TenantCondition(ctx, "")
	res := s.cfg.DB.WithContext(ctx).Exec(`UPDATE webhook_subscriptions SET enabled = ?, updated_at = ? WHERE id = ? AND `+cond, append([]any{enabled, s.cfg.Now(), id}, targs...)...)
	if res.Error != nil {
		return fmt.Errorf("webhook: subscription %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %d", ErrSubscriptionNotFound, id)
	}
	return nil
}

// Delete removes a subscription.
func (s *Subscriptions) Delete(ctx context.Context, id int64) error {
	cond, targs := inbox.TenantCondition(ctx, "")
	res := s.cfg.DB.WithContext(ctx).Exec(`DELETE FROM webhook_subscriptions WHERE id = ? AND `+cond, append([]any{id}, targs...)...)
	if res.Error != nil {
		return fmt.Errorf("webhook: subscription %d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: %d", ErrSubscriptionNotFound, id)
	}
	return nil
}

// Get returns one subscription (its secret stays sealed, and is not shown).
func (s *Subscriptions) Get(ctx context.Context, id int64) (Subscription, error) {
	cond, targs := inbox.TenantCondition(ctx, "")
	subs, _, err := s.load(ctx, s.cfg.DB, `WHERE id = ? AND `+cond, append([]any{id}, targs...)...)
	if err != nil {
		return Subscription{}, err
	}
	if len(subs) == 0 {
		return Subscription{}, fmt.Errorf("%w: %d", ErrSubscriptionNotFound, id)
	}
	return subs[0], nil
}

// List returns the subscriptions of domain ("" for all), by ID: the
// context's tenant's (see inbox.TenantOf), or the app-wide ones without a
// tenant.
func (s *Subscriptions) List(ctx context.Context, domain string) ([]Subscription, error) {
	cond, targs := inbox.TenantCondition(ctx, "")
	if domain == "" {
		subs, _, err := s.load(ctx, s.cfg.DB, `WHERE `+cond+` ORDER BY id LIMIT 1000`, targs...)
		return subs, err
	}
	subs, _, err := s.load(ctx, s.cfg.DB, `WHERE domain = ? AND `+cond+` ORDER BY id LIMIT 1000`, append([]any{domain}, targs...)...)
	return subs, err
}

func (s *Subscriptions) load(ctx context.Context, db *gorm.DB, clause string, args ...any) ([]Subscription, []string, error) {
	rows, err := db.WithContext(ctx).Raw(`SELECT id, domain, array_to_json(actions)::text, url, secret, enabled, created_by, created_at, updated_at, coalesce(tenant_id, '') FROM webhook_subscriptions `+clause, args...).Rows()
	if err != nil {
		return nil, nil, fmt.Errorf("webhook: read subscriptions: %w", err)
	}
	defer rows.Close()
	var out []Subscription
	var secrets []string
	for rows.Next() {
		var sub Subscription
		var actions, secret string
		if err := rows.Scan(&sub.ID, &sub.Domain, &actions, &sub.URL, &secret, &sub.Enabled, &sub.CreatedBy, &sub.CreatedAt, &sub.UpdatedAt, &sub.Tenant); err != nil {
			return nil, nil, fmt.Errorf("webhook: read subscriptions: %w", err)
		}
		if err := json.Unmarshal([]byte(actions), &sub.Actions); err != nil {
			return nil, nil, fmt.Errorf("webhook: read subscription %d: %w", sub.ID, err)
		}
		out = append(out, sub)
		secrets = append(secrets, secret)
	}
	return out, secrets, rows.Err()
}

// Name is the inbox's name (SubscriptionsConfig.Name).
func (s *Subscriptions) Name() string { return s.cfg.Name }

// Policy is the inbox's policy.
func (s *Subscriptions) Policy() inbox.Policy { return s.cfg.Policy }

// Accepts takes every event of the subscribable domains; Process looks up
// who wants it (Accepts does no I/O).
func (s *Subscriptions) Accepts(domain, _ string) bool { return s.domains[domain] != nil }

// IdempotencyHeader carries a key that is the same on every attempt of one
// delivery to one subscription.
const IdempotencyHeader = "Idempotency-Key"

// Process posts the event to every enabled subscription that wants it.
func (s *Subscriptions) Process(ctx context.Context, d *inbox.Delivery) error {
	ev := d.Event
	// A tenant's subscriptions get its events; app-wide ones get all.
	subs, secrets, err := s.load(ctx, d.DB, `WHERE domain = ? AND enabled AND (actions = '{}' OR ? = ANY(actions)) AND (tenant_id IS NULL OR tenant_id = ?) ORDER BY id`, ev.Domain, ev.Action, ev.TenantID)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return nil
	}
	body, err := activity.MarshalCloudEvent(ev, s.cfg.Source)
	if err != nil {
		return inbox.Permanent(err)
	}
	var retry, permanent []error
	for i, sub := range subs {
		secret, err := s.cfg.Keyring.Open(secrets[i], secretPurpose)
		if err != nil {
			permanent = append(permanent, fmt.Errorf("subscription %d: %w", sub.ID, err))
			continue
		}
		key := d.Inbox + ":" + ev.Domain + ":" + strconv.FormatInt(ev.ID, 10) + ":" + strconv.FormatInt(sub.ID, 10)
		_, err = d.Send(ctx, "subscription:"+strconv.FormatInt(sub.ID, 10), func(ctx context.Context) error {
			_, err := s.cfg.Client.Post(ctx, Request{URL: sub.URL, Body: body, Secret: secret, Header: http.Header{
				"Content-Type":    {activity.CloudEventsContentType},
				IdempotencyHeader: {key},
			}})
			return err
		})
		var we *Error
		switch {
		case err == nil:
			d.Answered(Sink(sub.URL))
		case errors.As(err, &we) && !we.Retryable():
			if mis := Misconfigured(Sink(sub.URL), err); mis != nil {
				err = mis
			}
			permanent = append(permanent, fmt.Errorf("subscription %d: %w", sub.ID, err))
		default:
			retry = append(retry, fmt.Errorf("subscription %d: %w", sub.ID, err))
		}
	}
	switch {
	case len(retry) > 0:
		// Retried: the refusals ride along as text, since a permanent
		// error (a MisconfiguredError) in the join would make the whole
		// job permanent; the ledger keeps the sent ones from going twice.
		for _, p := range permanent {
			retry = append(retry, errors.New(p.Error()))
		}
		return errors.Join(retry...)
	case len(permanent) > 0:
		return inbox.Permanent(errors.Join(permanent...))
	}
	return nil
}
