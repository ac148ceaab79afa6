package activity

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ForPerson returns e as it may be handed to p (an export of p's data,
// package privacy): the personal fields of anyone else masked, with the
// rules Erase applies to an erased person's events:
//
//   - an actor other than p (a named system actor excepted: it names no
//     one) loses its label (ErasedLabel), IP address and user agent;
//   - a record other than p loses its label (ErasedLabel);
//   - unless p is the actor, the personal paths of extra
//     (DomainConfig.PersonalPaths) are removed, but for those whose value
//     is one of p.Values, ignoring case (p's own address in an invitation
//     about them): in an event done by someone else they hold the other
//     person's data, as PersonValues and Erase read them;
//   - every string of extra (keys too), tags and the retraction reason
//     that mentions what was masked above (the other actor's label, IP
//     address and user agent, the other record's label, the removed
//     paths' values) is masked as erasure masks it ("[erased]", whole
//     words, ignoring case), but for p's own values.
//
// Keys stay (actor, record and subject ids, retracted_by), as erasure
// keeps them. A string that names a third person the event does not
// reference (a comment quoting a name) cannot be told apart and stays. e
// is not changed; what the result shares with it (extra, tags when
// nothing in them was masked) is not changed either.
func (d *Domain) ForPerson(e Event, p Person) Event {
	out := e
	var others []string
	isActor := e.ActorType == p.Type && e.ActorID == p.ID
	if !isActor {
		if e.ActorType != SystemActorType {
			others = append(others, e.ActorLabel)
			out.ActorLabel = ErasedLabel
		}
		for _, v := range []*string{e.IP, e.UserAgent} {
			if v != nil {
				others = append(others, *v)
			}
		}
		out.IP, out.UserAgent = nil, nil
	}
	if e.RecordLabel != nil && !(e.RecordType != nil && e.RecordID != nil && *e.RecordType == p.Type && *e.RecordID == p.ID) {
		others = append(others, *e.RecordLabel)
		erased := ErasedLabel
		out.RecordLabel = &erased
	}
	if !isActor && len(d.personal) > 0 && len(e.Extra) > 0 {
		var dropped []string
		out.Extra, dropped = d.dropOthersPaths(e.Extra, p)
		others = append(others, dropped...)
	}
	if len(others) == 0 {
		return out // p's own act about themselves or no one: nothing to mask
	}
	m := newMasker(othersValues(others, p))
	if len(m) == 0 {
		return out
	}
	out.Extra = m.json(out.Extra)
	if e.RetractionReason != nil {
		r := m.text(*e.RetractionReason)
		out.RetractionReason = &r
	}
	if e.Tags != nil {
		out.Tags = make(map[string]string, len(e.Tags))
		for k, v := range e.Tags {
			out.Tags[m.text(k)] = m.text(v)
		}
	}
	return out
}

// othersValues returns vals without p's own values, the erased label and
// strings too short to mask safely (MinPersonValue), as erasure skips them.
func othersValues(vals []string, p Person) []string {
	own := map[string]bool{strings.ToLower(ErasedLabel): true}
	for _, v := range p.Values {
		own[strings.ToLower(v)] = true
	}
	var out []string
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if len([]rune(v)) >= MinPersonValue && !own[strings.ToLower(v)] {
			own[strings.ToLower(v)] = true
			out = append(out, v)
		}
	}
	return out
}

// dropOthersPaths returns extra without the values at d's personal paths
// that are not one of p.Values (ignoring case), and the text of what it
// removed. extra that is not a JSON object, or holds none of the paths,
// comes back as it is (a copy).
func (d *Domain) dropOthersPaths(extra json.RawMessage, p Person) (json.RawMessage, []string) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(extra))
	dec.UseNumber() // numbers come back as they were
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return append(json.RawMessage(nil), extra...), nil
	}
	own := make(map[string]bool, len(p.Values))
	for _, v := range p.Values {
		own[strings.ToLower(v)] = true
	}
	var dropped []string
	changed := false
	for _, keys := range d.personal {
		parent := obj
		for _, k := range keys[:len(keys)-1] {
			next, ok := parent[k].(map[string]any)
			if !ok {
				parent = nil
				break
			}
			parent = next
		}
		if parent == nil {
			continue
		}
		last := keys[len(keys)-1]
		v, ok := parent[last]
		if !ok {
			continue
		}
		s, isText := v.(string)
		if isText && own[strings.ToLower(s)] {
			continue
		}
		if isText {
			dropped = append(dropped, s)
		}
		delete(parent, last)
		changed = true
	}
	if !changed {
		return append(json.RawMessage(nil), extra...), nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage(`{}`), dropped
	}
	return b, dropped
}

// json masks every string (and object key) of j, as tidings_mask_jsonb
// does; j that is not JSON comes back as it is.
func (m masker) json(j json.RawMessage) json.RawMessage {
	if len(j) == 0 {
		return j
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return j
	}
	changed := false
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			masked := m.text(t)
			changed = changed || masked != t
			return masked
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
			return t
		case map[string]any:
			out := make(map[string]any, len(t))
			for k, e := range t {
				mk := m.text(k)
				changed = changed || mk != k
				out[mk] = walk(e)
			}
			return out
		}
		return x
	}
	v = walk(v)
	if !changed {
		return j
	}
	b, err := json.Marshal(v)
	if err != nil {
		return j
	}
	return b
}

// maskedText replaces what erasure masks.
const maskedText = "[erased]"

// maskText replaces every occurrence of one of vals in s, ignoring case,
// as a whole word (not preceded or followed by a letter or digit), with
// "[erased]": what tidings_mask_text (migration 00017) does in SQL.
func maskText(s string, vals []string) string { return newMasker(vals).text(s) }

// masker masks a set of values, its patterns compiled once.
type masker []*regexp.Regexp

func newMasker(vals []string) masker {
	var m masker
	for _, v := range vals {
		if len([]rune(v)) < MinPersonValue {
			continue
		}
		if re, err := regexp.Compile(`(?i)` + regexp.QuoteMeta(v)); err == nil {
			m = append(m, re)
		}
	}
	return m
}

func (m masker) text(s string) string {
	for _, re := range m {
		var b strings.Builder
		i := 0
		for i < len(s) {
			loc := re.FindStringIndex(s[i:])
			if loc == nil {
				break
			}
			start, end := i+loc[0], i+loc[1]
			before, _ := utf8.DecodeLastRuneInString(s[:start])
			after, _ := utf8.DecodeRuneInString(s[end:])
			if start > 0 && isWordRune(before) || end < len(s) && isWordRune(after) {
				// Not a whole word: look again one character on.
				_, size := utf8.DecodeRuneInString(s[start:])
				b.WriteString(s[i : start+size])
				i = start + size
				continue
			}
			b.WriteString(s[i:start])
			b.WriteString(maskedText)
			i = end
		}
		if i > 0 {
			b.WriteString(s[i:])
			s = b.String()
		}
	}
	return s
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
