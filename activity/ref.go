package activity

import "fmt"

// Ref is a polymorphic reference to an actor or a record: its type (by
// default the gorm table name, "users"), its key as text ("42" or a UUID) and
// a short display label kept on the event so it still renders after the
// referenced row is gone.
//
// Limits: Type an identifier of at most 64 bytes, ID at most 128 bytes,
// Label at most MaxLabelBytes; ID and Label valid UTF-8 without NUL bytes.
// A Ref passed with more is refused (ErrInvalidRef). A label the package
// takes from a model (Referencer, Labeler, a Name or Title field) is a
// snapshot for display: it is cut to MaxLabelBytes, at a character
// boundary, instead.
//
// Its JSON form is snake_case, like everything the library emits:
// {"type":"users","id":"42","label":"Ana"} (notifications' actors lists
// written before the tags read back too: encoding/json matches keys
// without regard to case).
type Ref struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Label string `json:"label"`
}

func (r Ref) String() string { return r.Type + ":" + r.ID }

// IsZero reports whether r is the zero reference.
func (r Ref) IsZero() bool { return r.Type == "" && r.ID == "" }

// Referencer is implemented by models that name themselves as activity
// references. It wins over what gorm's schema would infer.
type Referencer interface {
	ActivityRef() Ref
}

// Labeler is implemented by models that provide their own display label
// (for the snapshot kept on each event). Without it, a string field named
// Name, Title, DisplayName, Username or Email is used, in that order.
type Labeler interface {
	ActivityLabel() string
}

// System returns the reference of a named system actor: System("system"),
// System("workflow"), System("cron"). Its type is "system".
func System(name string) Ref { return Ref{Type: SystemActorType, ID: name, Label: name} }

// MaxLabelBytes caps an actor's or record's label (see Ref).
const MaxLabelBytes = 200

// SystemActorType is the actor type of named system actors.
const SystemActorType = "system"

func (r Ref) validate(what string) error {
	switch {
	case r.Type == "" && r.ID == "":
		return &RefError{What: what, Ref: r, Reason: "is empty: it needs a type and an id"}
	case r.Type == "":
		return &RefError{What: what, Ref: r, Reason: "has no type"}
	case r.ID == "":
		return &RefError{What: what, Ref: r, Reason: "has no id"}
	case len(r.Type) > 64:
		return &RefError{What: what, Ref: r, Reason: "has a type longer than 64 bytes"}
	case !refTypeRE.MatchString(r.Type):
		return &RefError{What: what, Ref: r, Reason: "has a type that is not an identifier: use letters, digits and underscores, starting with a letter, like a table name (\"users\"), optionally schema-qualified (\"app.users\")"}
	case len(r.ID) > 128:
		return &RefError{What: what, Ref: r, Reason: "has an id longer than 128 bytes"}
	case len(r.Label) > MaxLabelBytes:
		return &RefError{What: what, Ref: r, Reason: fmt.Sprintf("has a label of %d bytes, over the limit of %d (MaxLabelBytes): pass a shorter display label", len(r.Label), MaxLabelBytes)}
	}
	if p := textProblem(r.ID); p != "" {
		return &RefError{What: what, Ref: r, Reason: "has an id that " + p}
	}
	if p := textProblem(r.Label); p != "" {
		return &RefError{What: what, Ref: r, Reason: "has a label that " + p}
	}
	return nil
}

// RefError reports an actor or record reference that cannot be stored.
// errors.Is(err, ErrInvalidRef) holds for it.
type RefError struct {
	What   string // "actor" or "record"
	Ref    Ref
	Reason string
}

func (e *RefError) Error() string {
	return fmt.Sprintf("activity: %s reference %+q %s", e.What, e.Ref.String(), e.Reason)
}

func (e *RefError) Is(target error) bool { return target == ErrInvalidRef }
