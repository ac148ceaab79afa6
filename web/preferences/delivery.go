package preferences

import (
	"context"
	"net/http"
	"slices"

	"github.com/tidingsdev/tidings/inbox"
)

// DeliveryState is how one channel delivers one domain to the person.
type DeliveryState struct {
	Domain  string `json:"domain"`
	Channel string `json:"channel"`
	Choice  string `json:"choice"` // inbox.Choice.String()
	Chosen  bool   `json:"chosen"` // the person's own choice (else the app's default)
	// Label names the row for people: "Email · Issue".
	Label   string           `json:"label"`
	Options []DeliveryOption `json:"-"`
}

// domains are the page's domains, in topic order.
func (p *Page) domains() []string {
	var out []string
	for _, t := range p.cfg.Topics {
		if !slices.Contains(out, t.Domain) {
			out = append(out, t.Domain)
		}
	}
	return out
}

func (p *Page) deliveryState(ctx context.Context, recipient string, st *State) error {
	if len(p.cfg.Deliveries) == 0 {
		return nil
	}
	loc := p.locale(ctx)
	for _, dom := range p.domains() {
		for _, ch := range p.cfg.Channels {
			ds := DeliveryState{Domain: dom, Channel: ch.Name, Options: p.cfg.Deliveries,
				Label: p.channelLabel(loc, ch) + " · " + p.cfg.Words.Domain(loc, dom)}
			c, ok, err := inbox.ChoiceOf(ctx, p.cfg.DB, recipient, ch.Name, dom, inbox.AnyAction)
			if err != nil {
				return err
			}
			if !ok {
				c = p.cfg.Defaults.DefaultChoice(ch.Name, dom, inbox.AnyAction)
				if c.Mode == inbox.Off {
					c = inbox.ImmediateChoice
				}
			}
			ds.Choice, ds.Chosen = c.String(), ok
			st.Delivery = append(st.Delivery, ds)
		}
	}
	return nil
}

// deliveryField is a select's name: delivery|channel|domain.
func deliveryField(channel, domain string) string { return "delivery|" + channel + "|" + domain }

// deliveryForm saves the delivery row: one select per channel and domain,
// each one of Config.Deliveries.
func (p *Page) deliveryForm(w http.ResponseWriter, r *http.Request, recipient string) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form is too large or malformed", http.StatusBadRequest)
		return
	}
	for _, dom := range p.domains() {
		for _, ch := range p.cfg.Channels {
			v := r.PostForm.Get(deliveryField(ch.Name, dom))
			if v == "" {
				continue
			}
			i := slices.IndexFunc(p.cfg.Deliveries, func(o DeliveryOption) bool { return o.Choice.String() == v })
			if i < 0 {
				http.Error(w, "delivery "+v+" is not one of this page's choices", http.StatusBadRequest)
				return
			}
			if err := p.cfg.Defaults.SetChoice(r.Context(), p.cfg.DB, recipient, ch.Name, dom, inbox.AnyAction, p.cfg.Deliveries[i].Choice); err != nil {
				p.fail(w, r, err)
				return
			}
		}
	}
	http.Redirect(w, r, p.cfg.Prefix+"/?saved=1", http.StatusSeeOther)
}
