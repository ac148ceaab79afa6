package locale

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// ErrUnknownLocale is returned (in a *LocaleError) for a locale that is not
// a BCP 47 tag or not declared in the Catalog.
var ErrUnknownLocale = errors.New("locale: unknown locale")

// LocaleError reports a locale a Catalog cannot take.
type LocaleError struct {
	Locale   string
	Declared []string
}

func (e *LocaleError) Error() string {
	return fmt.Sprintf("locale: %.40q is not declared (declared: %s)", e.Locale, strings.Join(e.Declared, ", "))
}

// Is matches ErrUnknownLocale.
func (e *LocaleError) Is(target error) bool { return target == ErrUnknownLocale }

// Catalog is the messages of a set of declared locales, one of them the
// fallback. Build it at start-up (Set, SetPlural), then only read it: it is
// safe for concurrent readers.
type Catalog struct {
	fallback language.Tag
	tags     []language.Tag
	names    []string
	matcher  language.Matcher
	builder  *catalog.Builder
	keys     map[language.Tag]map[string]bool
	layouts  map[language.Tag]string
}

// New returns a Catalog of the declared locales (BCP 47: "en", "de",
// "pt-BR"); fallback must be one of them and serves readers of any other
// language, and keys missing in a reader's locale.
func New(fallback string, locales ...string) (*Catalog, error) {
	if !slices.Contains(locales, fallback) {
		locales = append([]string{fallback}, locales...)
	}
	c := &Catalog{keys: map[language.Tag]map[string]bool{}, layouts: map[language.Tag]string{}}
	for _, l := range locales {
		tag, err := language.Parse(l)
		if err != nil {
			return nil, &LocaleError{Locale: l, Declared: locales}
		}
		c.tags = append(c.tags, tag)
		c.names = append(c.names, tag.String())
		c.keys[tag] = map[string]bool{}
		if l == fallback {
			c.fallback = tag
		}
	}
	// the matcher prefers the fallback when nothing matches: put it first
	ordered := append([]language.Tag{c.fallback}, slices.DeleteFunc(slices.Clone(c.tags), func(t language.Tag) bool { return t == c.fallback })...)
	c.matcher = language.NewMatcher(ordered)
	c.builder = catalog.NewBuilder(catalog.Fallback(c.fallback))
	return c, nil
}

// Locales returns the declared locales, the fallback first.
func (c *Catalog) Locales() []string {
	out := []string{c.fallback.String()}
	for _, n := range c.names {
		if n != out[0] {
			out = append(out, n)
		}
	}
	return out
}

// Fallback returns the fallback locale.
func (c *Catalog) Fallback() string { return c.fallback.String() }

func (c *Catalog) declared(locale string) (language.Tag, error) {
	tag, err := language.Parse(locale)
	if err == nil && c.keys[tag] != nil {
		return tag, nil
	}
	return language.Tag{}, &LocaleError{Locale: locale, Declared: c.names}
}

// Set gives key a message in locale: a fmt format ("%[1]s commented on
// %[2]s"), with explicit argument indexes where languages order them
// differently.
func (c *Catalog) Set(locale, key, format string) error {
	tag, err := c.declared(locale)
	if err != nil {
		return err
	}
	if err := c.builder.SetString(tag, key, format); err != nil {
		return fmt.Errorf("locale: set %s in %s: %w", key, locale, err)
	}
	c.keys[tag][key] = true
	return nil
}

// SetPlural gives key a message in locale that depends on the plural form
// of argument arg (1-based): cases are pairs of a selector ("=0", "one",
// "few", "many", "other", "<5") and a format, the first match wins. See
// golang.org/x/text/feature/plural.Selectf.
func (c *Catalog) SetPlural(locale, key string, arg int, cases ...string) error {
	tag, err := c.declared(locale)
	if err != nil {
		return err
	}
	if len(cases) == 0 || len(cases)%2 != 0 {
		return fmt.Errorf("locale: plural %s in %s: give selector and format pairs, ending with \"other\"", key, locale)
	}
	args := make([]any, len(cases))
	for i, s := range cases {
		args[i] = s
	}
	if err := c.builder.Set(tag, key, plural.Selectf(arg, "%d", args...)); err != nil {
		return fmt.Errorf("locale: set %s in %s: %w", key, locale, err)
	}
	c.keys[tag][key] = true
	return nil
}

// Match returns the declared locale that serves a reader of locale ("de-AT"
// reads "de"; an undeclared or malformed one reads the fallback).
func (c *Catalog) Match(locale string) string {
	return c.match(locale).String()
}

func (c *Catalog) match(locale string) language.Tag {
	tag, err := language.Parse(locale)
	if err != nil {
		return c.fallback
	}
	if c.keys[tag] != nil {
		return tag
	}
	_, i, conf := c.matcher.Match(tag)
	if conf == language.No {
		return c.fallback
	}
	ordered := append([]language.Tag{c.fallback}, slices.DeleteFunc(slices.Clone(c.tags), func(t language.Tag) bool { return t == c.fallback })...)
	return ordered[i]
}

// Sprintf renders key for a reader of locale: in their matched locale,
// else (key missing there) in the fallback, else the key itself, so a
// missing message shows rather than vanishes.
func (c *Catalog) Sprintf(locale, key string, args ...any) string {
	tag := c.match(locale)
	if !c.keys[tag][key] {
		tag = c.fallback
	}
	if !c.keys[tag][key] {
		return key
	}
	return message.NewPrinter(tag, message.Catalog(c.builder)).Sprintf(key, args...)
}

// Has reports whether key has a message in locale itself (no fallback).
func (c *Catalog) Has(locale, key string) bool {
	tag, err := c.declared(locale)
	return err == nil && c.keys[tag][key]
}

// Missing is one message a Catalog lacks.
type Missing struct{ Locale, Key string }

func (m Missing) String() string { return m.Locale + ": " + m.Key }

// Missing lists every (declared locale, key) without a message, sorted.
func (c *Catalog) Missing(keys ...string) []Missing {
	var out []Missing
	for _, l := range c.Locales() {
		tag, _ := language.Parse(l)
		for _, k := range keys {
			if !c.keys[tag][k] {
				out = append(out, Missing{Locale: l, Key: k})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Locale != out[j].Locale {
			return out[i].Locale < out[j].Locale
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// Keys returns "<domain>.<action>.<part>" for every action and part.
func Keys(domain string, actions []string, parts ...string) []string {
	var out []string
	for _, a := range actions {
		for _, p := range parts {
			out = append(out, domain+"."+a+"."+p)
		}
	}
	return out
}

// Key returns "<domain>.<action>.<part>".
func Key(domain, action, part string) string { return domain + "." + action + "." + part }

// SetTimeLayout sets how locale writes a date and time (a time.Format
// layout). Defaults: "Jan 2, 2006 3:04 PM MST" for English, "02.01.2006
// 15:04 MST" for German, ISO "2006-01-02 15:04 MST" for others.
func (c *Catalog) SetTimeLayout(locale, layout string) error {
	tag, err := c.declared(locale)
	if err != nil {
		return err
	}
	c.layouts[tag] = layout
	return nil
}

// FormatTime writes t in the reader's zone (UTC when nil) and locale.
func (c *Catalog) FormatTime(locale string, t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	tag := c.match(locale)
	layout, ok := c.layouts[tag]
	if !ok {
		base, _ := tag.Base()
		switch base.String() {
		case "en":
			layout = "Jan 2, 2006 3:04 PM MST"
		case "de":
			layout = "02.01.2006 15:04 MST"
		default:
			layout = "2006-01-02 15:04 MST"
		}
	}
	return t.In(loc).Format(layout)
}
