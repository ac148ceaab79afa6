package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"

	"github.com/tidingsdev/tidings/inbox"

	"github.com/tidingsdev/tidings/inbox/webhook"
)

// keyring seals the secrets the demo stores (rule webhook secrets, webhook
// subscription secrets), with a key derived from -secret: the web and the
// worker process derive the same key (Config.Secret's default comes from
// the DSN, never random per process), so a subscription the web process
// sealed is opened by the worker that delivers it.
func (a *App) keyring() (*webhook.Keyring, error) {
	if a.hist.keys != nil {
		return a.hist.keys, nil
	}
	m := hmac.New(sha256.New, a.cfg.Secret)
	m.Write([]byte("tidings-demo: keyring for secrets at rest"))
	k, err := webhook.NewKeyring("demo", map[string][]byte{"demo": m.Sum(nil)})
	if err != nil {
		return nil, err
	}
	a.hist.keys = k
	return k, nil
}

// history holds the demo's history tools: the keyring, and what
// history.go wires.
type history struct {
	keys       *webhook.Keyring
	archive    inbox.Inbox
	backfiller *inbox.Backfiller
	receiver   *receiver // dev mode only
	wg         sync.WaitGroup
}
