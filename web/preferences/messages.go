package preferences

import "maps"

// Messages returns the page's texts in English, by key: what an app's
// locale catalog (Config.Words.Catalog) translates or rewords. Arguments
// are fmt verbs, in the order each comment says.
func Messages() map[string]string { return maps.Clone(messages) }

var messages = map[string]string{
	"preferences.title":             "Notification preferences",
	"preferences.back":              "← back",
	"preferences.col.topic":         "Tell me about",
	"preferences.always":            "always",
	"preferences.always_sent":       "%s: always sent", // the topic's label
	"preferences.always_title":      "always sent: it cannot be turned off",
	"preferences.yours":             "yours",
	"preferences.yours_on":          "your choice; the default is on",
	"preferences.yours_off":         "your choice; the default is off",
	"preferences.save":              "Save",
	"preferences.delivery":          "How you get them",
	"preferences.save_delivery":     "Save delivery",
	"preferences.muted":             "Muted subjects",
	"preferences.unmute":            "Unmute",
	"preferences.none":              "None.",
	"preferences.saved":             "Saved.",
	"preferences.unsubscribed":      "You unsubscribed from %s. Here is everything you get, to change more.", // what
	"preferences.refused.sign_in":   "sign in to see your notification preferences",
	"preferences.refused.tenant":    "notification preferences belong to an organisation: sign in as a member of one",
	"preferences.refused.too_large": "the form is too large or malformed",
}
