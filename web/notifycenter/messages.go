package notifycenter

import "maps"

// Messages returns the texts of the center's JSON errors in English, by
// key: their "message", which an app's locale catalog
// (Config.Words.Catalog) translates or rewords; the "error" code stays.
// Arguments are fmt verbs, in the order each comment says.
func Messages() map[string]string { return maps.Clone(messages) }

var messages = map[string]string{
	"notifycenter.error.internal":       "the notifications could not be read or changed just now; try again",
	"notifycenter.error.limit":          "limit must be a whole number from 1 to 200",
	"notifycenter.error.cursor":         "after is not a cursor this API made: start from the first page",
	"notifycenter.error.bad_id":         "no notification has that id (ids are positive whole numbers)",
	"notifycenter.error.not_yours":      "you have no notification %s",                                          // the id asked for
	"notifycenter.error.unknown_change": "unknown change %q; allowed: read, unread, archive, unarchive, delete", // the change asked for
	"notifycenter.error.no_identity":    "the notification center refuses every request until the app gives an identity (Config.Identity or web.Middleware)",
	"notifycenter.error.sign_in":        "sign in to see your notifications",
	"notifycenter.error.identity":       "who you are could not be checked just now; try again",
	"notifycenter.error.no_tenant":      NoTenantMessage,
	"notifycenter.error.nul":            "the recipient or tenant holds a NUL byte",
	"notifycenter.error.no_stream":      "this server cannot stream responses",
	"notifycenter.error.last_event_id":  "Last-Event-ID must be an id this stream sent (a whole number of 0 or more)",
	"notifycenter.error.json":           "send the subscription as JSON (Content-Type: application/json)",
	"notifycenter.error.subscription":   `the body is not a JSON push subscription: {"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}`,
	// Why the device store refused a push subscription (device.InvalidError's
	// Code); the first argument is the field (Address, Label, P256dh, Auth).
	"notifycenter.error.device.empty":        "device: Address.%s is empty",
	"notifycenter.error.device.too_long":     "device: Address.%s is %d bytes: at most %d", // the field, its size, the limit
	"notifycenter.error.device.encoding":     "device: Address.%s is not valid UTF-8 without NUL bytes",
	"notifycenter.error.device.endpoint":     "device: Address.%s is not a push service endpoint: an https URL without user info or fragment",
	"notifycenter.error.device.p256dh":       "device: Address.%s is not base64url of a 65-byte uncompressed P-256 public key",
	"notifycenter.error.device.p256dh_point": "device: Address.%s is not a point on P-256",
	"notifycenter.error.device.auth":         "device: Address.%s is not base64url of a 16-byte authentication secret",
}
