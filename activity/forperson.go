package activity

import (
	"bytes"
	"encoding/json"
	"strings"
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
//     person's data, as PersonValues and Erase read them.
//
// Keys stay (actor, record and subject ids, retracted_by), as erasure
// keeps them. Other strings of extra, tags and the retraction reason are
// kept: nothing tells whose they are. e is not changed; the result shares
// nothing with it.
func (d *Domain) ForPerson(e Event, p Person) Event {
	out := e
	isActor := e.ActorType == p.Type && e.ActorID == p.ID
	if !isActor {
		if e.ActorType != SystemActorType {
			out.ActorLabel = ErasedLabel
		}
		out.IP, out.UserAgent = nil, nil
	}
	if e.RecordLabel != nil && !(e.RecordType != nil && e.RecordID != nil && *e.RecordType == p.Type && *e.RecordID == p.ID) {
		erased := ErasedLabel
		out.RecordLabel = &erased
	}
	if !isActor && len(d.personal) > 0 && len(e.Extra) > 0 {
		out.Extra = d.dropOthersPaths(e.Extra, p)
	}
	if e.Tags != nil {
		out.Tags = make(map[string]string, len(e.Tags))
		for k, v := range e.Tags {
			out.Tags[k] = v
		}
	}
	return out
}

// dropOthersPaths returns extra without the values at d's personal paths
// that are not one of p.Values (ignoring case). extra that is not a JSON
// object, or holds none of the paths, comes back as it is (a copy).
func (d *Domain) dropOthersPaths(extra json.RawMessage, p Person) json.RawMessage {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(extra))
	dec.UseNumber() // numbers come back as they were
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return append(json.RawMessage(nil), extra...)
	}
	own := make(map[string]bool, len(p.Values))
	for _, v := range p.Values {
		own[strings.ToLower(v)] = true
	}
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
		if s, isText := v.(string); isText && own[strings.ToLower(s)] {
			continue
		}
		delete(parent, last)
		changed = true
	}
	if !changed {
		return append(json.RawMessage(nil), extra...)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}
