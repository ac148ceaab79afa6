package web

import "strings"

// BadPrefix reports whether prefix cannot be a mounted page's Prefix: one
// must be empty or start with a slash, and not end with one ("/rules",
// never "rules" or "/rules/"). Every page's New refuses a bad one with
// its ConfigError.
func BadPrefix(prefix string) bool {
	return strings.HasSuffix(prefix, "/") || (prefix != "" && !strings.HasPrefix(prefix, "/"))
}
