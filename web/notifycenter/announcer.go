package notifycenter

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/tidingsdev/tidings/inbox"
	"github.com/tidingsdev/tidings/inbox/notify"
)

// Announcer publishes notify.Arrivals on Redis, one message per arrival on
// its stream's channel (see Channel), in one pipeline. Give it to the
// worker's notify inbox (notify.Config.Announcer); the web processes'
// Centers subscribe.
//
// Why Redis pub/sub and not PostgreSQL's NOTIFY: a NOTIFY in the
// delivery's transaction takes a server-wide lock at commit and holds it
// through the WAL flush, so every notification's commit would wait for
// every other's (cmd/bench measures it). Redis is already the worker's
// queue; a PUBLISH after the commit costs one round trip per delivery and
// no lock. What pub/sub loses (a message published while a web process
// was reconnecting) the stream reads back from PostgreSQL: announcements
// only wake streams, the notifications table is the truth.
type Announcer struct {
	redis  redis.UniversalClient
	prefix string
}

// NewAnnouncer returns an Announcer publishing on client, on channels
// starting with prefix ("" means DefaultChannelPrefix).
func NewAnnouncer(client redis.UniversalClient, prefix string) (*Announcer, error) {
	if client == nil {
		return nil, &ConfigError{Field: "NewAnnouncer client", Reason: "is nil"}
	}
	if prefix == "" {
		prefix = DefaultChannelPrefix
	}
	return &Announcer{redis: client, prefix: prefix}, nil
}

// Announce implements notify.Announcer.
func (a *Announcer) Announce(ctx context.Context, arrivals []notify.Arrival) error {
	if len(arrivals) == 0 {
		return nil
	}
	_, err := a.redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, x := range arrivals {
			p.Publish(ctx, a.Channel(x.Tenant, x.Recipient), strconv.FormatInt(x.Seq, 10))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("notifycenter: announce %d arrivals: %w", len(arrivals), err)
	}
	return nil
}

// Changed tells the open streams of recipient in ctx's tenant
// (inbox.TenantOf), in every process, that counts changed (read, archived,
// deleted elsewhere).
func (a *Announcer) Changed(ctx context.Context, recipient string) error {
	tenant := inbox.TenantOf(ctx)
	if err := a.redis.Publish(ctx, a.Channel(tenant, recipient), "").Err(); err != nil {
		return fmt.Errorf("notifycenter: announce a change for %q (tenant %q): %w", recipient, tenant, err)
	}
	return nil
}

// Channel returns the pub/sub channel of the stream of recipient in tenant
// ("" when untenanted): the prefix then the recipient when untenanted
// ("tidings:notify:8", as before tenants); the prefix, the tenant, a NUL
// byte and the recipient in a tenant ("tidings:notify:acme\x008"). Each
// (tenant, recipient) is a stream of its own (see notify.Arrival), so
// another tenant's arrivals for the same recipient key never wake it.
// Tenants and recipients are PostgreSQL text, which cannot hold a NUL
// byte, so the NUL separates them whatever they contain (':' included),
// and no untenanted recipient's channel is a tenant's; the Center refuses
// a request whose tenant or recipient holds one.
func (a *Announcer) Channel(tenant, recipient string) string {
	if tenant == "" {
		return a.prefix + recipient
	}
	return a.prefix + tenant + "\x00" + recipient
}
