package activity

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// subjectArg checks a subject key against the domain's key type and returns
// it as a query argument (int64 for bigint keys, string otherwise).
func (d *Domain) subjectArg(v any) (any, error) {
	bad := func(reason string) error { return &SubjectError{Domain: d.name, Value: v, Reason: reason} }
	if v == nil {
		return nil, bad("is nil: pass the " + d.subject.Table + " row's key")
	}
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, bad("is a nil pointer")
		}
		rv = rv.Elem()
	}
	switch d.subject.KeyType {
	case KeyBigint:
		switch rv.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if rv.Int() == 0 {
				return nil, bad("is zero: save the subject first, or pass its key")
			}
			return rv.Int(), nil
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if rv.Uint() == 0 {
				return nil, bad("is zero: save the subject first, or pass its key")
			}
			if rv.Uint() > math.MaxInt64 {
				return nil, bad("overflows bigint")
			}
			return int64(rv.Uint()), nil
		case reflect.String: // the text form events carry in SubjectID
			n, err := strconv.ParseInt(rv.String(), 10, 64)
			if err != nil {
				return nil, bad(fmt.Sprintf("is a string that is not a decimal integer; the subject key of %s is %s: pass an integer", d.subject.Table, d.subject.KeyType))
			}
			if n == 0 {
				return nil, bad("is zero: save the subject first, or pass its key")
			}
			return n, nil
		}
		return nil, bad(fmt.Sprintf("is a %T; the subject key of %s is %s: pass an integer", v, d.subject.Table, d.subject.KeyType))
	case KeyUUID:
		var s string
		switch {
		case rv.Kind() == reflect.Array && rv.Len() == 16 && rv.Type().Elem().Kind() == reflect.Uint8:
			var b [16]byte
			reflect.Copy(reflect.ValueOf(b[:]), rv)
			s = keyString(b)
		case rv.Kind() == reflect.String:
			s = strings.ToLower(rv.String())
		default:
			return nil, bad(fmt.Sprintf("is a %T; the subject key of %s is a uuid: pass a UUID (a [16]byte type such as uuid.UUID) or its string form", v, d.subject.Table))
		}
		if !uuidRE.MatchString(s) {
			return nil, bad("is not a UUID")
		}
		if s == "00000000-0000-0000-0000-000000000000" {
			return nil, bad("is the zero UUID: save the subject first, or pass its key")
		}
		return s, nil
	default: // KeyText
		var s string
		switch {
		case rv.Kind() == reflect.String:
			s = rv.String()
		default:
			if st, ok := v.(fmt.Stringer); ok {
				s = st.String()
			} else {
				return nil, bad(fmt.Sprintf("is a %T; the subject key of %s is text: pass a string", v, d.subject.Table))
			}
		}
		if s == "" {
			return nil, bad("is empty: save the subject first, or pass its key")
		}
		return s, nil
	}
}

// SubjectKey returns v formatted as the text form events store in
// SubjectID, after checking it as RecordEvent does.
func (d *Domain) SubjectKey(v any) (string, error) {
	a, err := d.subjectArg(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprint(a), nil
}
