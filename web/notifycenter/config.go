package notifycenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/tidingsdev/tidings/inbox/device"
	"github.com/tidingsdev/tidings/inbox/notify"
	"github.com/tidingsdev/tidings/web"
)

// ErrInvalidConfig is returned (inside a *ConfigError) by New given a
// configuration that cannot work.
var ErrInvalidConfig = errors.New("notifycenter: invalid configuration")

// ConfigError reports a configuration field that cannot work.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string        { return "notifycenter: " + e.Field + " " + e.Reason }
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// RecipientFunc says whose notifications a request may see: the signed-in
// person's key, as the notify inbox stores recipients ("7"). ok false
// refuses the request (403).
//
// Deprecated: give the center a web.Identity (Config.Identity or
// web.Middleware); its Person's ID is the recipient. Recipient is asked
// only of a request that carries no identity.
type RecipientFunc func(r *http.Request) (recipient string, ok bool)

// Description is what an app adds to a notification for display: a
// sentence and a link.
type Description struct {
	Text string `json:"text,omitempty"`
	URL  string `json:"url,omitempty"`
}

// DescribeFunc describes a page of notifications, one Description each,
// in order (for example with package web/feedview). An error fails the
// request.
type DescribeFunc func(ctx context.Context, ns []notify.Notification) ([]Description, error)

// DefaultChannelPrefix starts the Redis pub/sub channel of each stream
// (tenant, recipient): see Announcer.Channel.
const DefaultChannelPrefix = "tidings:notify:"

// Config configures a Center. Zero fields take the documented defaults.
type Config struct {
	// DB holds the notifications (the library's migrations). Required.
	DB *gorm.DB
	// Redis carries the announcements between processes (pub/sub).
	// Required: a client (*redis.Client, a cluster or failover client) of
	// the Redis the worker announces on.
	Redis redis.UniversalClient
	// Identity says who asks, when the request carries no web.Identity
	// (web.Middleware): the signed-in person's notifications (their
	// Person's ID is the recipient), in their Tenant. Default none: the
	// identity on the request's context, else Recipient, else refuse.
	Identity web.IdentityFunc
	// Recipient authorizes requests that carry no identity.
	//
	// Deprecated: use Identity.
	Recipient RecipientFunc
	// RequireTenant says the notifications belong to tenants (the app's
	// domains are tenanted): a request whose context carries no tenant
	// (activity.MiddlewareConfig.Tenant found none) is refused with 403 and
	// the message NoTenantMessage, instead of reading and changing the
	// untenanted rows. Default false: an untenanted app.
	RequireTenant bool
	// Prefix is the path the center is mounted at ("/api/notifications"),
	// with no trailing slash. Default "" (the root).
	Prefix string
	// ChannelPrefix starts each stream's pub/sub channel (see
	// Announcer.Channel); the worker's Announcer must use the same.
	// Default DefaultChannelPrefix.
	ChannelPrefix string
	// Describe adds a sentence and a link to each listed or streamed
	// notification. Default nil: none.
	Describe DescribeFunc
	// Words says the message of each JSON error (Messages) in the
	// reader's language: the app's locale catalog over the English
	// defaults. The error codes stay as they are. Default: English.
	Words web.Words
	// PageSize is the list's default page size. Default 20.
	PageSize int
	// Recheck is how often an open stream reads the database without being
	// told: the safety net for an announcement lost with a Redis restart.
	// Default 30s.
	Recheck time.Duration
	// Heartbeat is how often an idle stream sends a comment line, so
	// proxies keep it open and a dead client is noticed. Default 15s.
	Heartbeat time.Duration
	// StreamOpened, when set, is called as each stream opens, and the
	// function it returns as it closes: a metrics hook (observe's
	// Metrics.PushConnected counts open streams). Default nil.
	StreamOpened func() (closed func())
	// Push, when set, offers "notify me on this browser": the center
	// serves a service worker and stores each browser's push subscription
	// for the signed-in person (see PushConfig, and package
	// inbox/webpush for the inbox that pushes). Default nil: no push
	// routes.
	Push *PushConfig
	// Logger reports failures of the subscription and of streams. Default
	// slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	switch {
	case c.DB == nil:
		return c, &ConfigError{Field: "Config.DB", Reason: "is nil"}
	case c.Redis == nil:
		return c, &ConfigError{Field: "Config.Redis", Reason: "is nil: the live stream hears of new notifications through Redis pub/sub"}
	case strings.HasSuffix(c.Prefix, "/"):
		return c, &ConfigError{Field: "Config.Prefix", Reason: fmt.Sprintf("is %q: drop the trailing slash", c.Prefix)}
	case c.Prefix != "" && !strings.HasPrefix(c.Prefix, "/"):
		return c, &ConfigError{Field: "Config.Prefix", Reason: fmt.Sprintf("is %q: start it with a slash", c.Prefix)}
	case c.PageSize < 0 || c.PageSize > 200:
		return c, &ConfigError{Field: "Config.PageSize", Reason: fmt.Sprintf("is %d: allowed 1 to 200 (0 means 20)", c.PageSize)}
	case c.Recheck < 0 || c.Heartbeat < 0:
		return c, &ConfigError{Field: "Config.Recheck", Reason: "and Config.Heartbeat must not be negative"}
	}
	if c.Push != nil {
		push := *c.Push
		if _, err := device.PublicKey(push.PublicKey); err != nil {
			return c, &ConfigError{Field: "Config.Push.PublicKey", Reason: "is not a VAPID public key (base64url of an uncompressed P-256 point: webpush.VAPID.PublicKey)"}
		}
		if push.OpenURL == "" {
			push.OpenURL = "/"
		}
		if localPath(push.OpenURL) == "" {
			return c, &ConfigError{Field: "Config.Push.OpenURL", Reason: fmt.Sprintf("is %.60q: give a local path (\"/inbox\")", push.OpenURL)}
		}
		c.Push = &push
	}
	if c.ChannelPrefix == "" {
		c.ChannelPrefix = DefaultChannelPrefix
	}
	if c.PageSize == 0 {
		c.PageSize = 20
	}
	if c.Recheck == 0 {
		c.Recheck = 30 * time.Second
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 15 * time.Second
	}
	defaults := Messages()
	maps.Copy(defaults, c.Words.Defaults)
	c.Words.Defaults = defaults
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
