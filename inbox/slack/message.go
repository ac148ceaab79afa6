package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/tidingsdev/tidings/activity"
)

// Message is what gets posted: Block Kit blocks and the top-level text,
// which Slack shows in notifications and where blocks cannot render. Both
// are mrkdwn: every piece of user text in them must have gone through
// Escape.
type Message struct {
	Text   string
	Blocks []slackapi.Block
}

// BuildFunc renders one event as a Message.
type BuildFunc func(ctx context.Context, ev activity.Event) (Message, error)

// AnyAction registers a builder used for every action of a domain that has
// no builder of its own.
const AnyAction = "*"

// Builders picks a BuildFunc per (domain, action): the action's own, else
// the domain's AnyAction builder, else the fallback. Register at start-up;
// Build is safe for concurrent use.
type Builders struct {
	fallback BuildFunc

	mu    sync.RWMutex
	byKey map[[2]string]BuildFunc
}

// NewBuilders returns a registry whose fallback is fallback, or
// DefaultMessage when it is nil.
func NewBuilders(fallback BuildFunc) *Builders {
	if fallback == nil {
		fallback = DefaultMessage
	}
	return &Builders{fallback: fallback, byKey: map[[2]string]BuildFunc{}}
}

// Register sets the builder of (domain, action); action may be AnyAction.
func (b *Builders) Register(domain, action string, f BuildFunc) error {
	if domain == "" || action == "" || f == nil {
		return fmt.Errorf("%w: Register needs a domain, an action (or %q) and a function; got %q, %q", ErrInvalidConfig, AnyAction, domain, action)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.byKey[[2]string{domain, action}] = f
	return nil
}

// Build renders ev with the builder registered for it.
func (b *Builders) Build(ctx context.Context, ev activity.Event) (Message, error) {
	b.mu.RLock()
	f, ok := b.byKey[[2]string{ev.Domain, ev.Action}]
	if !ok {
		f, ok = b.byKey[[2]string{ev.Domain, AnyAction}]
	}
	b.mu.RUnlock()
	if !ok {
		f = b.fallback
	}
	m, err := f(ctx, ev)
	if err != nil {
		return Message{}, fmt.Errorf("slack: build message for %s: %w", ev, err)
	}
	if m.Text == "" && len(m.Blocks) == 0 {
		return Message{}, fmt.Errorf("slack: the builder for %s/%s returned an empty message", ev.Domain, ev.Action)
	}
	return m, nil
}

// Limits keep a default message inside Slack's (3000 characters per text
// object, 2000 per field, 10 fields per section).
const (
	maxFields     = 10
	maxFieldRunes = 300 // 1500 characters at worst once escaped
)

// DefaultMessage renders any event: a sentence ("*Ana* added a comment on
// issue 42"), the record's label, up to ten extra fields in key order, and
// a context line with the event and its time. Every label, value and id is
// escaped.
func DefaultMessage(_ context.Context, ev activity.Event) (Message, error) {
	sentence := Sentence(ev)
	head := "*" + Escape(actorLabel(ev)) + "*" + strings.TrimPrefix(sentence, Escape(actorLabel(ev)))
	if rec := ev.Record(); rec != nil && rec.Label != "" {
		head += "\n>" + Escape(clip(oneLine(rec.Label), maxFieldRunes))
	}
	blocks := []slackapi.Block{
		slackapi.NewSectionBlock(slackapi.NewTextBlockObject(slackapi.MarkdownType, head, false, false), nil, nil),
	}
	if fields := extraFields(ev); len(fields) > 0 {
		blocks = append(blocks, slackapi.NewSectionBlock(nil, fields, nil))
	}
	ctxText := Escape(ev.Ref().String())
	if !ev.OccurredAt.IsZero() {
		fallback := ev.OccurredAt.UTC().Format("2006-01-02 15:04 UTC")
		ctxText += fmt.Sprintf(" · <!date^%d^{date_short_pretty} {time}|%s>", ev.OccurredAt.Unix(), fallback)
	}
	blocks = append(blocks, slackapi.NewContextBlock("", slackapi.NewTextBlockObject(slackapi.MarkdownType, ctxText, false, false)))
	return Message{Text: sentence, Blocks: blocks}, nil
}

// Sentence says what happened, escaped for Slack: "Ana added a comment on
// issue 42". An action "<noun>_<verb in past tense>" reads "<verb> a <noun>
// on", a lone past-tense verb ("closed") reads "closed issue 42", and any
// other action reads "Ana: <action words> on issue 42".
func Sentence(ev activity.Event) string {
	actor := Escape(actorLabel(ev))
	subject := Escape(humanize(ev.Domain) + " " + clip(oneLine(ev.SubjectID), 100))
	words := strings.FieldsFunc(ev.Action, func(r rune) bool { return r == '_' || r == '-' || r == '.' })
	n := len(words)
	switch {
	case n == 1 && pastTense(words[0]):
		return actor + " " + Escape(words[0]) + " " + subject
	case n >= 2 && pastTense(words[n-1]):
		verb, noun := words[n-1], strings.Join(words[:n-1], " ")
		if noun == humanize(ev.Domain) {
			return actor + " " + Escape(verb) + " " + subject
		}
		return actor + " " + Escape(verb) + " " + article(noun) + " " + Escape(noun) + " on " + subject
	}
	return actor + ": " + Escape(strings.Join(words, " ")) + " on " + subject
}

func actorLabel(ev activity.Event) string {
	if l := oneLine(ev.ActorLabel); l != "" {
		return clip(l, 100)
	}
	return clip(ev.ActorType+":"+ev.ActorID, 100)
}

func pastTense(w string) bool {
	switch w {
	case "sent", "made", "set", "done", "paid", "built", "put", "read", "run", "shown",
		"given", "taken", "written", "won", "lost", "left", "split", "reset":
		return true
	}
	return strings.HasSuffix(w, "ed")
}

func article(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an"
	}
	return "a"
}

func humanize(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '-' || r == '.' }), " ")
}

// extraFields renders the event's extra as "*key*\nvalue" fields, escaped.
func extraFields(ev activity.Event) []*slackapi.TextBlockObject {
	extra := ev.ExtraMap()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fields []*slackapi.TextBlockObject
	for _, k := range keys {
		if len(fields) == maxFields {
			break
		}
		var v string
		switch x := extra[k].(type) {
		case string:
			v = x
		case nil:
			continue
		default:
			b, _ := json.Marshal(x)
			v = string(b)
		}
		text := "*" + Escape(clip(oneLine(humanize(k)), 100)) + "*\n" + Escape(clip(v, maxFieldRunes))
		fields = append(fields, slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false))
	}
	return fields
}

// oneLine folds line breaks into spaces, for labels.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clip cuts s to n runes, marking a cut with "…". Escaping afterwards may
// lengthen it, by at most 4 bytes per character, still inside Slack's limits.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
