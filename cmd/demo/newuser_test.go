package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// What a new user met: bad bytes in a form, a huge comment, an issue id too
// big for an int64 and a mail subject without the issue's title each get a
// clear answer, never a 500 with PostgreSQL's text.
func TestNewUserBugs(t *testing.T) {
	d := startDemo(t)
	var issue Issue
	if err := d.app.db.Where("title LIKE 'Login fails%'").Take(&issue).Error; err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", d.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: userCookie, Value: fmt.Sprint(issue.AuthorID)}) // a session: the rule editor is for admins
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	comments := fmt.Sprintf("/issues/%d/comments", issue.ID)
	for name, c := range map[string]struct {
		path, body string
		status     int
		want       string
	}{
		"invalid UTF-8 comment": {comments, "body=" + url.QueryEscape("bad \xff bytes"), 422, "not text (invalid UTF-8)"},
		"NUL in a comment":      {comments, "body=" + url.QueryEscape("a\x00b"), 422, "NUL character"},
		"20 MB comment":         {comments, "body=" + strings.Repeat("a", 20<<20), 413, "keep comments under 10,000 characters"},
		"NUL in a label":        {fmt.Sprintf("/issues/%d/labels", issue.ID), "name=" + url.QueryEscape("x\x00"), 422, "NUL character"},
		"NUL in a title":        {"/issues", "project_id=1&title=" + url.QueryEscape("t\x00"), 422, "NUL character"},
		"invalid UTF-8 rule":    {rulesPrefix + "/new", "name=" + url.QueryEscape("r\xff") + "&triggered_on=comment_added", 422, "invalid UTF-8"},
	} {
		status, body := post(c.path, c.body)
		if status != c.status || !strings.Contains(body, c.want) || strings.Contains(body, "SQLSTATE") {
			t.Errorf("%s: %d, want %d saying %q\n%.300s", name, status, c.status, c.want, body)
		}
	}
	for _, p := range []string{"/issues/99999999999999999999", "/issues/-1", "/issues/abc", "/issues/424242"} {
		res, err := http.Get(d.url + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
}
