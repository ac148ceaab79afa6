package activity

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"
)

// refOf turns what a caller passed as an actor or record into a Ref: a Ref, a
// *Ref, a Referencer, or a gorm model (struct or pointer to struct), whose
// type is its table name and whose id is its primary key.
func refOf(ctx context.Context, db *gorm.DB, what string, v any) (Ref, error) {
	switch x := v.(type) {
	case nil:
		return Ref{}, &RefError{What: what, Reason: "is nil"}
	case Ref:
		return x, x.validate(what)
	case *Ref:
		if x == nil {
			return Ref{}, &RefError{What: what, Reason: "is a nil *Ref"}
		}
		return *x, x.validate(what)
	case Referencer:
		r := x.ActivityRef()
		if r.Label == "" {
			r.Label = labelOf(v)
		}
		r.Label = truncate(r.Label, MaxLabelBytes) // a model's, like labelOf's
		return r, r.validate(what)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return Ref{}, &RefError{What: what, Reason: fmt.Sprintf("is a nil %T", v)}
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return Ref{}, &RefError{What: what, Reason: fmt.Sprintf("is a %T: pass a gorm model, an activity.Ref or a value implementing activity.Referencer", v)}
	}
	stmt := &gorm.Statement{DB: db}
	if err := stmt.Parse(v); err != nil {
		return Ref{}, &RefError{What: what, Reason: fmt.Sprintf("is a %T that gorm cannot parse as a model: %v", v, err)}
	}
	pk := stmt.Schema.PrioritizedPrimaryField
	if pk == nil {
		return Ref{}, &RefError{What: what, Reason: fmt.Sprintf("is a %T, a model without a primary key", v)}
	}
	id, zero := pk.ValueOf(ctx, rv)
	if zero {
		return Ref{}, &RefError{What: what, Ref: Ref{Type: stmt.Schema.Table}, Reason: fmt.Sprintf("has no id: the %T has a zero %s (save it first)", v, pk.Name)}
	}
	r := Ref{Type: stmt.Schema.Table, ID: keyString(id), Label: labelOf(v)}
	return r, r.validate(what)
}

// keyString formats a key value as text: integers in decimal, UUIDs in
// their canonical form, strings as they are.
func keyString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	}
	return fmt.Sprint(v)
}

var labelFields = []string{"Name", "Title", "DisplayName", "Username", "Email"}

// labelOf returns the display label of a model: its ActivityLabel, or the
// first non-empty string field among Name, Title, DisplayName, Username and
// Email, cut to MaxLabelBytes.
func labelOf(v any) string {
	if l, ok := v.(Labeler); ok {
		return truncate(l.ActivityLabel(), MaxLabelBytes)
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return ""
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return ""
	}
	for _, name := range labelFields {
		f := rv.FieldByName(name)
		if f.IsValid() && f.Kind() == reflect.String && f.String() != "" {
			return truncate(f.String(), MaxLabelBytes)
		}
	}
	return ""
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
