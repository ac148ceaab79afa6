package locale_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/inbox/locale"
)

var actions = []string{"comment_added", "closed"}

func catalog(t *testing.T) *locale.Catalog {
	t.Helper()
	c, err := locale.New("en", "de")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.SetPlural("en", "issue.comment_added.title", 2,
		"=0", "%[1]s commented on %[3]s", "one", "%[1]s and one other commented on %[3]s", "other", "%[1]s and %[2]d others commented on %[3]s"))
	must(c.SetPlural("de", "issue.comment_added.title", 2,
		"=0", "%[1]s hat %[3]s kommentiert", "one", "%[1]s und eine weitere Person haben %[3]s kommentiert", "other", "%[1]s und %[2]d weitere haben %[3]s kommentiert"))
	must(c.Set("en", "issue.comment_added.line", "%[1]s commented on %[2]s"))
	must(c.Set("de", "issue.comment_added.line", "%[1]s hat %[2]s kommentiert"))
	must(c.Set("en", "issue.closed.title", "%[1]s closed %[3]s"))
	must(c.Set("de", "issue.closed.title", "%[1]s hat %[3]s geschlossen"))
	must(c.Set("en", "issue.closed.line", "%[1]s closed %[2]s"))
	must(c.Set("de", "issue.closed.line", "%[1]s hat %[2]s geschlossen"))
	must(c.SetPlural("en", locale.DigestSubject, 1, "one", "1 update", "other", "%[1]d updates"))
	must(c.SetPlural("de", locale.DigestSubject, 1, "one", "1 Neuigkeit", "other", "%[1]d Neuigkeiten"))
	return c
}

func TestEveryActionInEveryLocale(t *testing.T) {
	c := catalog(t)
	keys := append(locale.Keys("issue", actions, locale.PartTitle, locale.PartLine), locale.DigestSubject)
	if missing := c.Missing(keys...); len(missing) > 0 {
		t.Fatalf("messages missing: %v", missing)
	}
	// One more action without a German line: the check names it.
	keys = append(keys, locale.Keys("issue", []string{"reopened"}, locale.PartLine)...)
	if err := c.Set("en", "issue.reopened.line", "%[1]s reopened %[2]s"); err != nil {
		t.Fatal(err)
	}
	missing := c.Missing(keys...)
	if !slices.Equal(missing, []locale.Missing{{Locale: "de", Key: "issue.reopened.line"}}) {
		t.Fatalf("Missing = %v, want de: issue.reopened.line", missing)
	}
}

func TestPluralsFallbackAndTimes(t *testing.T) {
	c := catalog(t)
	ev := activity.Event{Domain: "issue", Action: "comment_added", SubjectID: "12", ActorLabel: "Ana"}
	cases := []struct {
		locale string
		others int
		want   string
	}{
		{"en", 0, "Ana commented on #12"},
		{"en", 1, "Ana and one other commented on #12"},
		{"en", 4, "Ana and 4 others commented on #12"},
		{"de", 0, "Ana hat #12 kommentiert"},
		{"de", 1, "Ana und eine weitere Person haben #12 kommentiert"},
		{"de", 4, "Ana und 4 weitere haben #12 kommentiert"},
		{"de-AT", 4, "Ana und 4 weitere haben #12 kommentiert"},
		{"fr", 4, "Ana and 4 others commented on #12"}, // undeclared: the fallback
		{"not a tag\x00", 4, "Ana and 4 others commented on #12"},
	}
	for _, tc := range cases {
		if got := c.Title(tc.locale, ev, tc.others); got != tc.want {
			t.Errorf("Title(%q, %d) = %q, want %q", tc.locale, tc.others, got, tc.want)
		}
	}
	if got := c.Sprintf("de", locale.DigestSubject, 30); got != "30 Neuigkeiten" {
		t.Errorf("digest subject %q", got)
	}
	// A key missing in German falls back to English.
	if err := c.Set("en", "issue.reopened.line", "%[1]s reopened %[2]s"); err != nil {
		t.Fatal(err)
	}
	if got := c.Line("de", activity.Event{Domain: "issue", Action: "reopened", SubjectID: "3", ActorLabel: "Bo"}); got != "Bo reopened #3" {
		t.Errorf("fallback line %q", got)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := time.Date(2026, 3, 29, 6, 0, 0, 0, time.UTC)
	if got := c.FormatTime("de", at, berlin); got != "29.03.2026 08:00 CEST" {
		t.Errorf("German time %q", got)
	}
	if got := c.FormatTime("en", at, nil); got != "Mar 29, 2026 6:00 AM UTC" {
		t.Errorf("English time %q", got)
	}
	if err := c.Set("xx-bad-\x00", "k", "v"); !errors.Is(err, locale.ErrUnknownLocale) {
		t.Errorf("Set in a bad locale: %v", err)
	}
	if err := c.Set("fr", "k", "v"); !errors.Is(err, locale.ErrUnknownLocale) {
		t.Errorf("Set in an undeclared locale: %v", err)
	}
}
