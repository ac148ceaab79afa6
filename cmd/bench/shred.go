package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/tidingsdev/tidings/activity"
)

// shredFigure measures what crypto-shredding would cost recording, the
// alternative to privacy.Erase's rewriting: each event's personal fields
// (actor label, IP address, user agent) sealed with AES-256-GCM under a
// key per person, fetched from a keys table before each recording (one
// more round trip; a cache would have to forget deleted keys in every
// process). Baseline: the same recording in clear. Concurrency 8, -rounds
// alternating runs.
func shredFigure(ctx context.Context, b *bench) (figure, error) {
	db := b.db.WithContext(ctx)
	if err := db.Exec(`CREATE TABLE IF NOT EXISTS bench_person_keys (person text PRIMARY KEY, key bytea NOT NULL)`).Error; err != nil {
		return figure{}, err
	}
	const people = 64
	for i := range people {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return figure{}, err
		}
		if err := db.Exec(`INSERT INTO bench_person_keys VALUES (?, ?) ON CONFLICT (person) DO UPDATE SET key = EXCLUDED.key`, fmt.Sprint("shred-", i), key).Error; err != nil {
			return figure{}, err
		}
	}
	const ua = "Mozilla/5.0 (X11; Linux x86_64) BenchBrowser/1.0"
	person := func(w, i int) string { return fmt.Sprint("shred-", (w*7919+i)%people) }
	plain := func(ctx context.Context, w, i int) error {
		id := person(w, i)
		ctx = activity.WithMetadata(ctx, activity.Metadata{IP: "203.0.113.9", UserAgent: ua})
		_, err := b.issues.RecordEvent(ctx, b.db, 1+i%fixtureIssues, "comment_added", activity.Actor(activity.Ref{Type: "users", ID: id, Label: "Person " + id}))
		return err
	}
	sealed := func(ctx context.Context, w, i int) error {
		id := person(w, i)
		var key []byte
		if err := b.db.WithContext(ctx).Raw(`SELECT key FROM bench_person_keys WHERE person = ?`, id).Row().Scan(&key); err != nil {
			return err
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return err
		}
		seal := func(s string) string {
			nonce := make([]byte, gcm.NonceSize())
			_, _ = rand.Read(nonce)
			return base64.RawStdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(s), nil))
		}
		// The inet column cannot hold a sealed address: IP and user agent
		// go to extra, sealed; the label is sealed in place.
		_, err = b.issues.RecordEvent(ctx, b.db, 1+i%fixtureIssues, "comment_added",
			activity.Actor(activity.Ref{Type: "users", ID: id, Label: seal("Person " + id)}),
			activity.Extra(map[string]any{"ip_sealed": seal("203.0.113.9"), "user_agent_sealed": seal(ua)}))
		return err
	}
	d := b.duration(roundLength, roundLength/4)
	ours, base, err := alternate(b.rounds, func() (float64, error) { return throughput(ctx, 8, d, sealed) },
		func() (float64, error) { return throughput(ctx, 8, d, plain) })
	if err != nil {
		return figure{}, err
	}
	b.note("export: crypto-shredding's cost at recording, measured: a key per person (64 people) read from a keys table before each RecordEvent, actor label, IP address and user agent sealed with AES-256-GCM (IP and user agent into extra: the inet column cannot hold ciphertext), against the same recording in clear; concurrency 8, median of %d alternating runs of %s. Reading would pay too (a key per actor per feed page, decryption of every label), and copies (notifications, snapshots, third parties' error texts) would still need rewriting: privacy.Erase rewrites in place instead (privacy/doc.go).", b.rounds, d)
	return figure{Name: "record with per-person key + AES-GCM of label, IP, user agent (crypto-shredding) vs in clear, concurrency 8", Unit: "ev/s", Ours: ours, Baseline: base}, nil
}
