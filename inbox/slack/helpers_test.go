package slack_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	slackinbox "github.com/tidingsdev/tidings/inbox/slack"
	"github.com/tidingsdev/tidings/inbox/slack/slacktest"
)

const (
	wait  = 10 * time.Second
	token = "xoxb-test-token"
)

var t0 = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func event(id int64, subject, action, actor string, extra map[string]any) activity.Event {
	raw := []byte("{}")
	if extra != nil {
		raw, _ = json.Marshal(extra)
	}
	return activity.Event{
		ID: id, Domain: "issue", SubjectID: subject, Action: action,
		ActorType: "users", ActorID: "7", ActorLabel: actor,
		Extra: raw, OccurredAt: t0.Add(time.Duration(id) * time.Minute),
	}
}

func router(t *testing.T, cfg slackinbox.RouterConfig) *slackinbox.Router {
	t.Helper()
	r, err := slackinbox.NewRouter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func poster(t *testing.T, srv *slacktest.Server, threads slackinbox.ThreadStore) *slackinbox.Poster {
	t.Helper()
	p, err := slackinbox.NewPoster(slackinbox.Config{
		Token:   token,
		APIURL:  srv.APIURL(),
		Router:  router(t, slackinbox.RouterConfig{Default: "#activity", Rules: []slackinbox.Rule{{Domain: "issue", Channel: "#issues"}}}),
		Threads: threads,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var keySeq atomic.Int64

// unique returns a subject id no other test (or -count run) uses, since the
// thread tables outlive a single test.
func unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, keySeq.Add(1)) }
