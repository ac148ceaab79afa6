package tidings

import (
	"crypto/hmac"
	"crypto/sha256"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// MinSecret is the shortest Config.Secret accepted, in bytes.
const MinSecret = 32

// secretKeyID names the key derived from Config.Secret in sealed values.
const secretKeyID = "secret"

// openKeyring makes the keyring of Config.Keyring or Config.Secret, and
// refuses a configuration that seals secrets without either: a random
// per-process key would make what the web process sealed unreadable in
// the worker.
func (c *Client) openKeyring() error {
	cfg := c.cfg
	if cfg.Keyring != nil {
		c.keyring = cfg.Keyring
		return nil
	}
	if cfg.Secret == "" {
		needs := ""
		switch {
		case cfg.Rules != nil:
			needs = "Rules (a rule's webhook secret is sealed at rest)"
		case cfg.Webhooks != "":
			needs = "Webhooks (each subscription's secret is sealed at rest)"
		default:
			return nil
		}
		return &ConfigError{Field: "Secret", Reason: "is empty, and " + needs + " needs it: give every process of the app the same secret of at least 32 bytes, from configuration (an environment variable), or set Keyring"}
	}
	if len(cfg.Secret) < MinSecret {
		return &ConfigError{Field: "Secret", Reason: "is shorter than 32 bytes: use 32 random bytes or more (openssl rand -base64 32)"}
	}
	m := hmac.New(sha256.New, []byte(cfg.Secret))
	m.Write([]byte("tidings: keyring for secrets at rest"))
	k, err := webhook.NewKeyring(secretKeyID, map[string][]byte{secretKeyID: m.Sum(nil)})
	if err != nil {
		return err
	}
	c.keyring = k
	return nil
}
