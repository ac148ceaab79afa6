package eventbrowser

import "maps"

// Messages returns the browser's texts in English, by key: what an app's
// locale catalog (Config.Words.Catalog) translates or rewords. Arguments
// are fmt verbs, in the order each comment says.
func Messages() map[string]string { return maps.Clone(messages) }

var messages = map[string]string{
	"eventbrowser.title":                "Events",
	"eventbrowser.not_found":            "Not found",
	"eventbrowser.event_title":          "Event %s#%d", // the domain, the event's id
	"eventbrowser.home":                 "back to the app",
	"eventbrowser.filter.domain":        "Domain",
	"eventbrowser.filter.action":        "Action",
	"eventbrowser.filter.any":           "any",
	"eventbrowser.filter.actor":         "Actor",
	"eventbrowser.filter.actor_hint":    "users:7",
	"eventbrowser.filter.subject":       "Subject",
	"eventbrowser.filter.correlation":   "Correlation id",
	"eventbrowser.filter.since":         "Since",
	"eventbrowser.filter.until":         "Until",
	"eventbrowser.filter.after":         "Page", // the list's cursor, in the "older events" link
	"eventbrowser.filter.submit":        "Filter",
	"eventbrowser.filter.clear":         "clear",
	"eventbrowser.none_match":           "No event matches.",
	"eventbrowser.older":                "Older events",
	"eventbrowser.none":                 "None.",
	"eventbrowser.on":                   "on %s", // the subject
	"eventbrowser.repeats_title":        "throttled repeats folded into this event",
	"eventbrowser.prop.event":           "Event",
	"eventbrowser.permalink":            "(permalink)",
	"eventbrowser.prop.what":            "What",
	"eventbrowser.prop.subject":         "Subject",
	"eventbrowser.prop.who":             "Who",
	"eventbrowser.prop.record":          "Record",
	"eventbrowser.deleted":              "(deleted)",
	"eventbrowser.prop.when":            "When",
	"eventbrowser.repeats":              "(last of %d throttled repeats; first recorded %s)", // how many, when
	"eventbrowser.prop.source":          "Source",
	"eventbrowser.prop.request":         "Request",
	"eventbrowser.prop.correlation":     "Correlation",
	"eventbrowser.correlation_note":     "(everything this act set off)",
	"eventbrowser.prop.from":            "From",
	"eventbrowser.prop.user_agent":      "User agent",
	"eventbrowser.prop.depth":           "Depth",
	"eventbrowser.prop.extra":           "Extra",
	"eventbrowser.cause":                "Why: caused by",
	"eventbrowser.cause_elsewhere":      "%s (not browsable here)", // the cause's reference
	"eventbrowser.cause_none":           "Nothing: a person or a scheduled job did this.",
	"eventbrowser.caused":               "What it caused",
	"eventbrowser.runs":                 "Workflow runs",
	"eventbrowser.col.rule":             "Rule",
	"eventbrowser.col.outcome":          "Outcome",
	"eventbrowser.col.why":              "Why",
	"eventbrowser.col.actions":          "Actions",
	"eventbrowser.runs_none":            "No rule looked at this event.",
	"eventbrowser.refused.admin_only":   "You may not browse events here.",
	"eventbrowser.refused.sign_in":      "Sign in to browse events.",
	"eventbrowser.refused.admin":        "Only administrators may browse events.",
	"eventbrowser.refused.tenant":       "Events belong to an organisation: sign in as a member of one.",
	"eventbrowser.missing.event":        "That event does not exist.",
	"eventbrowser.missing.event_ref":    "Event %s#%d does not exist.",                                                    // the domain, the event's id
	"eventbrowser.deleted_subject":      "deleted %s #%s",                                                                 // the domain's name, the subject's key
	"eventbrowser.error.text":           "%s: use valid text without NUL bytes, at most %d bytes",                         // the field, how many
	"eventbrowser.error.domain":         "domain: %q is not browsable here; choose one of %s",                             // the domain typed, the domains
	"eventbrowser.error.actor":          "actor: %q is not type:id (users:7, system:workflow)",                            // what was typed
	"eventbrowser.error.time":           "%s: %q is not a time; give a date (%s), a date and time (%sT09:30) or RFC 3339", // the field, what was typed, today, today
	"eventbrowser.error.time_range":     "%s: %q is out of range; give a date from 1970 to 9999",                          // the field, what was typed
	"eventbrowser.error.action":         "activity: unknown action %q for domain %s; supported: %s",                       // the action typed, the domain, its actions
	"eventbrowser.error.action_suggest": "activity: unknown action %q for domain %s; did you mean %q?",                    // the action typed, the domain, the nearest action
	"eventbrowser.error.cursor":         "activity: invalid feed cursor: %.40q was not produced by a feed page's Next",    // the page link's after
	"eventbrowser.error.until":          "activity: query Until is not after Since",
	"eventbrowser.status.no_match":      "no_match",
	"eventbrowser.status.running":       "running",
	"eventbrowser.status.done":          "done",
	"eventbrowser.status.failed":        "failed",
	"eventbrowser.status.stopped":       "stopped",
	"eventbrowser.status.sending":       "sending",
	"eventbrowser.status.sent":          "sent",
}
