package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/inbox/chat/discord/discordtest"
	"github.com/tidingsdev/tidings/inbox/chat/teams/teamstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush/apnstest"
	"github.com/tidingsdev/tidings/inbox/mobilepush/fcmtest"
	"github.com/tidingsdev/tidings/inbox/sms/twiliotest"
)

// One comment, every channel. Ana opens an issue (so she is its
// subscriber); Ben comments on it in his browser. The demo's SMS, FCM,
// APNs, Discord and Teams inboxes (given to tidings.NewClient as an app
// gives them) deliver it to the local peers: a text to Ana's seeded
// number, a push to each of her seeded phones, a post to each of Acme's
// webhooks. The dev channels page, reached from the navigation, shows
// each, newest first; Globex's people see none of it on theirs.
func TestBrowserChannels(t *testing.T) {
	b := newBrowser(t)
	d := startDemo(t)
	shots := screenshotDir(t)
	var ana, ben, greta User
	for name, u := range map[string]*User{"Ana Lima": &ana, "Ben Okafor": &ben, "Greta Holm": &greta} {
		if err := d.app.db.Where("name = ?", name).Take(u).Error; err != nil {
			t.Fatal(err)
		}
	}
	var project Project
	if err := d.app.db.Where("org_id = ? AND key = ?", ana.OrgID, "WEB").Take(&project).Error; err != nil {
		t.Fatal(err)
	}

	// Ana opens the issue.
	title := "Tablet sync stalls " + imgPayload
	form := url.Values{"title": {title}, "body": {"The tablet app stops syncing after a while."}, "project_id": {fmt.Sprint(project.ID)}}
	req, _ := http.NewRequest("POST", d.url+"/issues", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: userCookie, Value: fmt.Sprint(ana.ID)})
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	issuePath := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(issuePath, "/issues/") {
		t.Fatalf("Ana's new issue: %d, Location %q", res.StatusCode, issuePath)
	}

	// Ben comments on it.
	benTab := b.newTab(t, "Ben", shots, 2*time.Minute)
	benTab.switchUser(d.url, ben)
	benTab.do("open the issue", chromedp.Navigate(d.url+issuePath), chromedp.WaitVisible(chromedp.CSS("#comment-form textarea")),
		chromedp.SendKeys(chromedp.CSS("#comment-form textarea"), "Does every channel hear of this?"))
	benTab.submit("comment", "#comment-form textarea")

	// Each peer receives it: wait on their own signals.
	// The channels name the issue by its number (the catalog's subject).
	want := "Ben Okafor commented on #" + strings.TrimPrefix(issuePath, "/issues/")
	p := d.app.fan.peers
	if _, err := p.twilio.WaitFor(time.Minute, func(ms []twiliotest.Message) bool {
		return hasItem(ms, func(m twiliotest.Message) bool {
			return m.Status == http.StatusCreated && strings.HasPrefix(m.Body, want+" ")
		})
	}); err != nil {
		t.Errorf("no text of Ben's comment: %v", err)
	}
	if _, err := p.fcm.WaitFor(time.Minute, func(ps []fcmtest.Push) bool {
		return hasItem(ps, func(m fcmtest.Push) bool { return m.Status == http.StatusOK && m.Title == want })
	}); err != nil {
		t.Errorf("no FCM push of Ben's comment: %v", err)
	}
	if _, err := p.apns.WaitFor(time.Minute, func(ps []apnstest.Push) bool {
		return hasItem(ps, func(m apnstest.Push) bool { return m.Status == http.StatusOK && m.Title == want })
	}); err != nil {
		t.Errorf("no APNs push of Ben's comment: %v", err)
	}
	waitPosts(t, "Discord", want, func(n int, d time.Duration) ([]string, error) {
		ms, err := p.discord.WaitFor(n, d)
		return texts(ms, func(m discordtest.Message) string { return discordShow(m.Payload.Content) }), err
	})
	waitPosts(t, "Teams", want, func(n int, d time.Duration) ([]string, error) {
		ms, err := p.teams.WaitFor(n, d)
		return texts(ms, func(m teamstest.Message) string { return strings.Join(m.Payload.Texts(), "\n") }), err
	})
	if t.Failed() {
		t.FailNow()
	}

	// Ana's dev channels page shows each, newest first.
	anaTab := b.newTab(t, "Ana", shots, 2*time.Minute)
	anaTab.switchUser(d.url, ana)
	anaTab.navigate("the dev channels page", chromedp.Click(chromedp.CSS(`header nav a[href="/dev/channels"]`)))
	anaTab.do("its lists", chromedp.WaitVisible(chromedp.CSS("#teams")))
	for _, id := range []string{"sms", "fcm", "apns", "discord", "teams"} {
		items := anaTab.text(id, `[...document.querySelectorAll('#`+id+` li.channel-message')].map(li => li.innerText).join('\n----\n')`)
		if !strings.Contains(items, want) {
			t.Errorf("the dev channels page's %s list lacks Ben's comment:\n%.1500s", id, items)
		}
		if (id == "sms" || id == "fcm" || id == "apns") && !strings.Contains(items, "to Ana Lima") {
			t.Errorf("the dev channels page's %s list names nobody as Ana:\n%.1500s", id, items)
		}
	}
	// Newest first: the page's first text is the last of the N texts to
	// Acme's people it counted (later arrivals only append to the log).
	total := anaTab.text("sms total", `document.getElementById('sms').dataset.total`)
	first := anaTab.text("first text", `document.querySelector('#sms li.channel-message .channel-text').textContent`)
	var acme []string
	for _, m := range p.twilio.Accepted() {
		if m.To == "+14155550142" {
			acme = append(acme, m.Body)
		}
	}
	if n, err := strconv.Atoi(total); err != nil || n == 0 || n > len(acme) {
		t.Errorf("the page counts %q texts to Acme's people, the peer has %d", total, len(acme))
	} else if first != acme[n-1] {
		t.Errorf("the page's first text is %q, want the newest of the %d it counted, %q", first, n, acme[n-1])
	}
	anaTab.noMarkup("dev channels")
	anaTab.shot("channels.png")

	// Globex sees its own channels only.
	gretaTab := b.newTab(t, "Greta", shots, time.Minute)
	gretaTab.switchUser(d.url, greta)
	gretaTab.do("the dev channels page", chromedp.Navigate(d.url+"/dev/channels"), chromedp.WaitVisible(chromedp.CSS("#teams")))
	if body := gretaTab.text("page", `document.querySelector('main').innerText`); strings.Contains(body, want) || strings.Contains(body, "Ana Lima") {
		t.Errorf("Greta's dev channels page shows Acme's messages:\n%.2000s", body)
	}
}

func hasItem[T any](items []T, ok func(T) bool) bool {
	for _, it := range items {
		if ok(it) {
			return true
		}
	}
	return false
}

func texts[T any](items []T, text func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = text(it)
	}
	return out
}

// waitPosts waits, on a chat peer's arrival signal, for a post holding
// want, at most a minute.
func waitPosts(t *testing.T, peer, want string, wait func(n int, d time.Duration) ([]string, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for n := 1; ; n++ {
		posts, err := wait(n, time.Until(deadline))
		if err != nil {
			t.Errorf("no %s post of %q: %v", peer, want, err)
			return
		}
		if strings.Contains(posts[n-1], want) {
			return
		}
	}
}
