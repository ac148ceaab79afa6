package notifycenter

import (
	_ "embed"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/tidingsdev/tidings/inbox/device"
)

// PushConfig offers "notify me on this browser" (Config.Push): the
// center serves a service worker that shows web push notifications
// (package inbox/webpush's Message) and routes that store and remove the
// browser's push subscription for the signed-in person in their tenant
// (device.Register, device.Remove).
type PushConfig struct {
	// PublicKey is the VAPID public key (webpush.VAPID.PublicKey, base64url):
	// the applicationServerKey browsers subscribe with. Required.
	PublicKey string
	// OpenURL is the page a click on a notification opens when the push
	// names none (a local path). Default "/".
	OpenURL string
}

//go:embed push_sw.js
var serviceWorkerJS string

//go:embed push_client.js
var pushClientJS string

// Subscription is POST {prefix}/push/subscriptions: a browser's
// PushSubscription.toJSON() (endpoint, keys), and optionally a label
// for the person's list of devices.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Label string `json:"label,omitempty"`
}

// PushKeyResponse is GET {prefix}/push/key.
type PushKeyResponse struct {
	PublicKey string `json:"public_key"`
}

// UnsubscribeResponse answers DELETE {prefix}/push/subscriptions.
type UnsubscribeResponse struct {
	Removed bool `json:"removed"`
}

func (c *Center) mountPush(mux *http.ServeMux) {
	p := c.cfg.Prefix + "/push"
	mux.HandleFunc("GET "+p+"/sw.js", c.serveScript(serviceWorkerJS, true))
	mux.HandleFunc("GET "+p+"/client.js", c.serveScript(pushClientJS, false))
	mux.HandleFunc("GET "+p+"/key", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, PushKeyResponse{PublicKey: c.cfg.Push.PublicKey})
	})
	mux.HandleFunc("POST "+p+"/subscriptions", c.authorized(c.subscribe))
	mux.HandleFunc("DELETE "+p+"/subscriptions", c.authorized(c.unsubscribe))
}

// serveScript serves a script with the center's paths filled in.
func (c *Center) serveScript(src string, worker bool) http.HandlerFunc {
	open, _ := json.Marshal(c.cfg.Push.OpenURL)
	prefix, _ := json.Marshal(c.cfg.Prefix)
	body := strings.NewReplacer(`"{{OPEN_URL}}"`, string(open), `"{{PREFIX}}"`, string(prefix)).Replace(src)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if worker {
			w.Header().Set("Cache-Control", "no-cache") // browsers check a worker for updates
		} else {
			w.Header().Set("Cache-Control", "max-age=300")
		}
		_, _ = w.Write([]byte(body))
	}
}

// readJSON decodes a JSON body of at most 16 KiB. It requires
// Content-Type application/json, which a cross-site form cannot send
// without the browser asking first (CORS).
func (c *Center) readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		c.refuse(w, r, http.StatusUnsupportedMediaType, "bad_request", "notifycenter.error.json")
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(v); err != nil {
		c.refuse(w, r, http.StatusBadRequest, "bad_request", "notifycenter.error.subscription")
		return false
	}
	return true
}

// subscribe serves POST {prefix}/push/subscriptions: the browser's
// subscription is stored for the person in the request's tenant (a
// subscription another person of the tenant had moves to this one).
func (c *Center) subscribe(w http.ResponseWriter, r *http.Request, recipient string) {
	var s Subscription
	if !c.readJSON(w, r, &s) {
		return
	}
	a, err := device.Register(r.Context(), c.cfg.DB, device.Address{Recipient: recipient, Kind: device.WebPush,
		Address: s.Endpoint, P256dh: s.Keys.P256dh, Auth: s.Keys.Auth, Label: s.Label})
	if errors.Is(err, device.ErrInvalid) {
		c.refuseAddress(w, r, err)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

// unsubscribe serves DELETE {prefix}/push/subscriptions: {"endpoint": ...}
// is no longer pushed to for the person.
func (c *Center) unsubscribe(w http.ResponseWriter, r *http.Request, recipient string) {
	var s Subscription
	if !c.readJSON(w, r, &s) {
		return
	}
	ok, err := device.Remove(r.Context(), c.cfg.DB, recipient, device.WebPush, s.Endpoint)
	if errors.Is(err, device.ErrInvalid) {
		c.refuseAddress(w, r, err)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, UnsubscribeResponse{Removed: ok})
}

// refuseAddress answers 400 with why the device store refused a push
// subscription (a *device.InvalidError), by its Code in the reader's
// words: notifycenter.error.device.<code> with the field (and for
// "too_long" its size and limit). A code a web push subscription cannot
// break (another kind's) answers the store's own reason.
func (c *Center) refuseAddress(w http.ResponseWriter, r *http.Request, err error) {
	var ie *device.InvalidError
	if errors.As(err, &ie) {
		key := "notifycenter.error.device." + ie.Code
		if _, ok := messages[key]; ok {
			args := []any{ie.Field}
			if ie.Code == "too_long" {
				args = append(args, ie.Size, ie.Max)
			}
			c.refuse(w, r, http.StatusBadRequest, "bad_request", key, args...)
			return
		}
	}
	writeError(w, http.StatusBadRequest, "bad_request", err.Error())
}
