package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Deleting an issue keeps its history: the delete redirects to the event
// browser, which still lists the issue's events, naming it "deleted issue
// #N", with the comment's text from the label snapshot.
func TestDeleteIssueKeepsHistory(t *testing.T) {
	d := startDemo(t)
	var issue Issue
	if err := d.app.db.Where("title LIKE 'Login fails%'").Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	var me User
	if err := d.app.db.Order("id").Take(&me).Error; err != nil {
		t.Fatal(err)
	}
	cookie := &http.Cookie{Name: userCookie, Value: fmt.Sprint(me.ID)}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(cookie)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	const text = "Seen on Safari 17 only"
	if res, body := do("POST", fmt.Sprintf("/issues/%d/comments", issue.ID), "body="+url.QueryEscape(text)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("comment: %d\n%.300s", res.StatusCode, body)
	}
	var before int64
	d.app.db.Table("issue_events").Where("subject_id = ?", issue.ID).Count(&before)
	if _, body := do("GET", fmt.Sprintf("/issues/%d", issue.ID), ""); !strings.Contains(body, `action="/issues/`+fmt.Sprint(issue.ID)+`/delete"`) {
		t.Fatalf("the issue page has no delete button\n%.500s", body)
	}
	res, body := do("POST", fmt.Sprintf("/issues/%d/delete", issue.ID), "")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d\n%.300s", res.StatusCode, body)
	}
	where := res.Header.Get("Location")
	if !strings.HasPrefix(where, eventsPrefix+"/") {
		t.Fatalf("delete redirects to %q, want the event browser", where)
	}
	if res, _ := do("GET", fmt.Sprintf("/issues/%d", issue.ID), ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("the deleted issue's page: %d, want 404", res.StatusCode)
	}
	var after int64
	d.app.db.Table("issue_events").Where("subject_id = ?", issue.ID).Count(&after)
	if before == 0 || after < before {
		t.Errorf("events of the deleted issue: %d before, %d after; want all kept", before, after)
	}
	res, body = do("GET", where, "")
	want := fmt.Sprintf("deleted issue #%d", issue.ID)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, want) || !strings.Contains(body, text) {
		t.Fatalf("event browser after the delete: %d, want %q and the comment's text\n%s", res.StatusCode, want, body)
	}
}
