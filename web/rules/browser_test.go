package rules_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tidingsdev/tidings/activity"
	"github.com/tidingsdev/tidings/web"
	"github.com/tidingsdev/tidings/web/rules"
)

// chromium returns the browser to drive (TIDINGS_CHROMIUM, else on the
// PATH), skipping the test without one.
func chromium(t *testing.T) string {
	if p := os.Getenv("TIDINGS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not found: install it (scripts/services --chromium) or set TIDINGS_CHROMIUM")
	return ""
}

// In a real browser: a refused form shows each error right under its own
// field (the trigger's under the trigger, not under the name), a choice
// the editor does not offer stays chosen, and the default stylesheet
// styles the buttons.
func TestFormInBrowser(t *testing.T) {
	path := chromium(t)
	reset(t)
	ed, err := rules.New(rules.Config{DB: db, Rules: newRules(t), Domains: []*activity.Domain{issues}, Prefix: "/rules", Logger: quiet(),
		Identity: func(*http.Request) (web.Identity, error) {
			return web.Identity{Person: activity.Ref{Type: "users", ID: "1"}, Tenant: "acme", Admin: true}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ed)
	defer srv.Close()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	type result struct {
		NameErr, TriggerErr, ValueErr bool
		Trigger                       string
		Button                        string
	}
	var below result
	err = chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/rules/new"),
		chromedp.WaitVisible(chromedp.CSS(`#rule-form`)),
		// A stale form: a trigger the domain no longer has.
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('select[name="triggered_on"]'); s.add(new Option('coment_added', 'coment_added')); s.value = 'coment_added'; return null; })()`),
		chromedp.SetValue(chromedp.CSS(`#conditions tr.cond-row[data-row="0"] [name="cond_attribute"]`), "subject.created_at"),
		chromedp.SetValue(chromedp.CSS(`#conditions tr.cond-row[data-row="0"] [name="cond_operator"]`), "lt"),
		chromedp.SendKeys(chromedp.CSS(`#conditions tr.cond-row[data-row="0"] [name="cond_value"]`), "banana"),
	)
	if err == nil {
		_, err = chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#save-rule`)))
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`[data-field="triggered_on"]`)))
	}
	if err == nil {
		below, err = chromedp.Run(ctx, chromedp.Evaluate[result](`(() => {
			const box = s => document.querySelector(s).getBoundingClientRect();
			// an error sits under its field and above the next field
			const under = (err, field, next) => box(err).top >= box(field).bottom - 1 && box(err).bottom <= box(next).top + 1;
			return {
				NameErr: under('[data-field="name"]', '#rule-name', '#rule-trigger'),
				TriggerErr: under('[data-field="triggered_on"]', '#rule-trigger', '#rule-scope'),
				ValueErr: box('[data-field="conditions[0].value"]').top >= box('#conditions tr.cond-row[data-row="0"] [name="cond_value"]').bottom - 1,
				Trigger: document.querySelector('#rule-trigger').value,
				Button: getComputedStyle(document.querySelector('#save-rule')).backgroundColor,
			};
		})()`))
	}
	if err != nil {
		t.Fatal(err)
	}
	if !below.NameErr || !below.TriggerErr || !below.ValueErr {
		t.Errorf("errors not under their fields: name %v, trigger %v, value %v", below.NameErr, below.TriggerErr, below.ValueErr)
	}
	if below.Trigger != "coment_added" {
		t.Errorf("the refused trigger reset to %q", below.Trigger)
	}
	if below.Button != "rgb(36, 87, 197)" {
		t.Errorf("the save button is %s, not the stylesheet's accent: browser-default buttons", below.Button)
	}
}
