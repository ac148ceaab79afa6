package locale_test

import (
	"fmt"

	"github.com/tidingsdev/tidings/inbox/locale"
)

// A catalog in English (the fallback) and German: a plural title, a
// reader of Austrian German served by German, a Polish reader by the
// fallback, and the test every app writes so no translation goes missing.
func Example() {
	cat, err := locale.New("en", "de")
	if err != nil {
		panic(err)
	}
	key := locale.Key("issue", "comment_added", "title")
	for _, set := range []error{
		cat.SetPlural("en", key, 2,
			"=0", "%[1]s commented on %[3]s",
			"one", "%[1]s and one other commented on %[3]s",
			"other", "%[1]s and %[2]d others commented on %[3]s"),
		cat.SetPlural("de", key, 2,
			"=0", "%[1]s hat %[3]s kommentiert",
			"other", "%[1]s und %[2]d weitere haben %[3]s kommentiert"),
		cat.Set("en", locale.Key("issue", "closed", "title"), "%[1]s closed %[2]s"),
	} {
		if set != nil {
			panic(set)
		}
	}

	fmt.Println(cat.Sprintf("en", key, "Ana", 0, "#7"))
	fmt.Println(cat.Sprintf("en", key, "Ana", 3, "#7"))
	fmt.Println(cat.Sprintf("de-AT", key, "Ana", 3, "#7"))
	fmt.Println(cat.Match("pl"), cat.Sprintf("pl", key, "Ana", 1, "#7"))
	fmt.Println(cat.Missing(locale.Keys("issue", []string{"comment_added", "closed"}, "title")...))
	// Output:
	// Ana commented on #7
	// Ana and 3 others commented on #7
	// Ana und 3 weitere haben #7 kommentiert
	// en Ana and one other commented on #7
	// [de: issue.closed.title]
}
