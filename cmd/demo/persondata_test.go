package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The person page: a signed-in person downloads their data as JSON lines
// (their comment among the events, as actor), erases it (a made-up
// person: events stay, shown as by an erased person; their name and email
// are nowhere in the database), and the erasure is listed; a person who is
// not made up, or nobody signed in, is refused.
func TestPersonPageExportAndErase(t *testing.T) {
	d := startDemo(t)
	db := d.app.db
	var ana User
	if err := db.Where("email = 'ana@example.com'").Take(&ana).Error; err != nil {
		t.Fatal(err)
	}
	var issue Issue
	if err := db.Order("id").Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, as *User, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "AnaBrowser/7.7 (person page test)")
		if as != nil {
			req.AddCookie(&http.Cookie{Name: userCookie, Value: strconv.FormatInt(as.ID, 10)})
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	if res, body := do("GET", personDataPath, nil, ""); res.StatusCode != 200 || !strings.Contains(body, `id="not-signed-in"`) {
		t.Fatalf("page without a session: %d\n%.300s", res.StatusCode, body)
	}
	if res, _ := do("GET", personExportPath, nil, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("export without a session: %d, want 403", res.StatusCode)
	}
	// Ana comments: her label, IP and user agent are recorded.
	if res, body := do("POST", fmt.Sprintf("/issues/%d/comments", issue.ID), &ana, "body="+url.QueryEscape("Still broken for me")); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("comment: %d\n%.300s", res.StatusCode, body)
	}
	var commentEvent int64
	if err := db.Raw(`SELECT max(id) FROM issue_events WHERE actor_id = ? AND action = 'comment_added'`, strconv.FormatInt(ana.ID, 10)).Scan(&commentEvent).Error; err != nil || commentEvent == 0 {
		t.Fatalf("Ana's comment event: %d, %v", commentEvent, err)
	}

	res, body := do("GET", personDataPath, &ana, "")
	if res.StatusCode != 200 || !strings.Contains(body, `id="export-link"`) || !strings.Contains(body, `id="erase-form"`) {
		t.Fatalf("Ana's page: %d\n%.500s", res.StatusCode, body)
	}
	res, body = do("GET", personExportPath, &ana, "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %v", res.StatusCode, res.Header)
	}
	var found, ended bool
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l struct {
			Type, Role string
			Event      *struct{ ID int64 }
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		found = found || (l.Type == "event" && l.Role == "actor" && l.Event.ID == commentEvent)
		ended = l.Type == "end"
	}
	if !found || !ended {
		t.Fatalf("export has Ana's comment: %v, ends with an end line: %v\n%.1000s", found, ended, body)
	}

	// A person who is not made up cannot be erased here.
	real := User{OrgID: ana.OrgID, Name: "Real Person", Email: "real@company.test"}
	if err := db.Create(&real).Error; err != nil {
		t.Fatal(err)
	}
	if res, _ := do("POST", personErasePath, &real, ""); res.StatusCode != http.StatusForbidden {
		t.Fatalf("erase a real person: %d, want 403", res.StatusCode)
	}

	var before int64
	db.Raw(`SELECT count(*) FROM issue_events`).Scan(&before)
	res, _ = do("POST", personErasePath, &ana, "")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), personDataPath+"?erased=") {
		t.Fatalf("erase: %d, Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	var after int64
	db.Raw(`SELECT count(*) FROM issue_events`).Scan(&after)
	if after < before {
		t.Fatalf("%d events after erasure, %d before: events must stay", after, before)
	}
	if _, body := do("GET", res.Header.Get("Location"), &ana, ""); !strings.Contains(body, `id="erased-notice"`) || !strings.Contains(body, `id="erasures"`) {
		t.Fatalf("page after erasure:\n%.800s", body)
	}
	var label string
	db.Raw(`SELECT actor_label FROM issue_events WHERE id = ?`, commentEvent).Scan(&label)
	if label != "erased person" {
		t.Fatalf("comment event's actor label %q after erasure", label)
	}
	// Nothing recorded after the erasure may bring her back: wait until the
	// worker has handled the comment's deliveries, then scan.
	waitUntil(t, 30*time.Second, "the comment's deliveries", func() bool {
		var pending int64
		db.Raw(`SELECT count(*) FROM inbox_pending WHERE event_id = ?`, commentEvent).Scan(&pending)
		return pending == 0
	})
	for _, s := range []string{"Ana Lima", "ana@example.com", "AnaBrowser/7.7"} {
		if hits := scanAll(t, d, s); len(hits) > 0 {
			t.Errorf("%q still in %v after erasure", s, hits)
		}
	}
}

// scanAll returns the table.column of every text-like column of the demo
// database holding s (ignoring case).
func scanAll(t *testing.T, d *demo, s string) []string {
	t.Helper()
	var cols []struct{ TableName, ColumnName string }
	if err := d.app.db.Raw(`SELECT c.table_name, c.column_name FROM information_schema.columns c
JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
  AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'ARRAY', 'USER-DEFINED')`).Scan(&cols).Error; err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cols {
		var n int64
		q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE strpos(lower(%q::text), lower(?)) > 0`, c.TableName, c.ColumnName)
		if err := d.app.db.Raw(q, s).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out = append(out, c.TableName+"."+c.ColumnName)
		}
	}
	return out
}
