package activity_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidingsdev/tidings/activity"
)

// ForPerson masks everyone else's personal fields in an event handed to
// a person, and keeps the person's own: the other actor's label, IP and
// user agent (and their mentions in extra, tags and the retraction
// reason), another record's label, personal paths that are not the
// person's own values.
func TestForPerson(t *testing.T) {
	d := activity.MustDomain(activity.DomainConfig{Name: "forperson", Actions: []string{"invited"}, PersonalPaths: []string{"email", "author.name"}})
	str := func(s string) *string { return &s }
	ana := activity.Person{Type: "users", ID: "9"}.WithValues("Ana Lima", "ana@example.org")
	ev := activity.Event{
		ActorType: "users", ActorID: "8", ActorLabel: "Ben Costa", IP: str("192.0.2.8"), UserAgent: str("BenAgent/1"),
		RecordType: str("users"), RecordID: str("7"), RecordLabel: str("Cid Reis"),
		Extra:            json.RawMessage(`{"email":"ana@example.org","author":{"name":"Dee Moss","n":12345678901234567890},"body":"Ben Costa invited Ana Lima; cc Cid Reis from 192.0.2.8"}`),
		Tags:             map[string]string{"by": "ben costa"},
		RetractionReason: str("duplicate, asked by Ben Costa"),
	}
	got := d.ForPerson(ev, ana)
	b, _ := json.Marshal(got)
	out := string(b)
	for _, s := range []string{"Ben Costa", "ben costa", "192.0.2.8", "BenAgent", "Cid Reis", "Dee Moss"} {
		if strings.Contains(out, s) {
			t.Errorf("%q is in the event handed to Ana: %s", s, out)
		}
	}
	for _, s := range []string{"ana@example.org", "Ana Lima", `"actor_id":"8"`, `"record_id":"7"`, "12345678901234567890", "[erased] invited Ana Lima"} {
		if !strings.Contains(out, s) {
			t.Errorf("%q is missing from the event handed to Ana: %s", s, out)
		}
	}
	if ev.ActorLabel != "Ben Costa" || *ev.IP != "192.0.2.8" || ev.Tags["by"] != "ben costa" || !strings.Contains(string(ev.Extra), "Dee Moss") {
		t.Errorf("ForPerson changed its argument: %+v", ev)
	}
	// Her own act keeps her fields and personal paths.
	ev.ActorID, ev.ActorLabel = "9", "Ana Lima"
	if got := d.ForPerson(ev, ana); got.ActorLabel != "Ana Lima" || got.IP == nil || !strings.Contains(string(got.Extra), "Dee Moss") {
		t.Errorf("her own event: %+v", got)
	}
	// A system actor names no one.
	ev.ActorType, ev.ActorID, ev.ActorLabel = activity.SystemActorType, "workflow", "workflow"
	if got := d.ForPerson(ev, ana); got.ActorLabel != "workflow" {
		t.Errorf("system actor label %q", got.ActorLabel)
	}
}

// The mask ForPerson applies in Go is erasure's tidings_mask_text: the
// same text for the same values.
func TestMaskTextMatchesSQL(t *testing.T) {
	vals := []string{"Ana Lima", "ana@example.org", "192.0.2.8", "a.b"}
	for _, s := range []string{
		"Ana Lima wrote", "ANA LIMA", "Hana Lima", "ana@example.org, hana@example.org", "mail ana@example.org.",
		"x192.0.2.8", "192.0.2.80", "(192.0.2.8)", "a.b a.bc ba.b a.b", "Ana Lima Ana Lima", "Ånå Lima ana lima", "", "no match",
	} {
		var want string
		if err := testDB.Raw(`SELECT tidings_mask_text(?, ?::text[])`, s, "{"+`"Ana Lima","ana@example.org","192.0.2.8","a.b"`+"}").Scan(&want).Error; err != nil {
			t.Fatal(err)
		}
		if got := activity.MaskText(s, vals); got != want {
			t.Errorf("MaskText(%q) = %q; SQL %q", s, got, want)
		}
	}
}
