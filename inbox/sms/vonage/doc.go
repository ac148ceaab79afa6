// Package vonage is an sms.Provider speaking Vonage's SMS API (POST
// https://rest.nexmo.com/sms/json, form-encoded, api_key with api_secret
// or a signature), and the handler of its delivery receipts
// (StatusHandler), with the standard library only: Vonage's Go SDK is a
// generated client for every Vonage product, and a text message is one
// form post. It is the second provider behind sms.Provider (after
// package twilio) and passes the same tests of the sms inbox.
//
//	p, err := vonage.New(vonage.Config{APIKey: key, APISecret: secret, From: "+14155550100",
//		StatusCallback: "https://app.example.com/hooks/vonage/dlr"})
//	// give p to sms.NewInbox (sms.Config.Provider)
//	h, err := vonage.NewStatusHandler(vonage.StatusConfig{SignatureSecret: sigSecret,
//		SignatureMethod: vonage.SHA256HMAC, DB: db})
//	http.Handle("/hooks/vonage/dlr", h)
//
// # Answers
//
// Vonage answers a request it read with HTTP 200 and a JSON body whose
// messages[].status is "0" for each part accepted, or another code with
// error-text. Send classes a refusal (sms.SendError.Class, Code the
// status) by CodeClass:
//
//   - 7 (number barred: on the account's list of numbers that texted
//     STOP) is sms.ErrOptedOut: suppressed and removed;
//   - 6 (invalid message: an unrecognised number prefix) and 33 (number
//     de-activated) are sms.ErrGone: removed;
//   - 1 (throttled) and 10 (too many binds) are sms.ErrRateLimited, with
//     Config.ThrottleWait (the SMS API names no wait);
//   - 4 (invalid credentials), 8 (account barred), 9 (partner quota
//     exceeded: no credit), 11 (not enabled for HTTP), 14 (invalid
//     signature), 15 (invalid sender), 23 (invalid callback URL) and 32
//     (a signature and a secret) are sms.ErrUnauthorized: a
//     misconfiguration of the account, a dead letter saying why;
//   - 5 (internal error) is sms.ErrUnavailable, held by the breaker;
//   - 2, 3, 12, 22 (missing or invalid parameters, too long, invalid
//     network code), 29 (a demo account's destination not on its list)
//     and any other code are sms.ErrRejected: refused for this message.
//
// An HTTP 429 is sms.ErrRateLimited with its Retry-After; 401 and 403
// sms.ErrUnauthorized; 5xx, 408, no answer, and a 2xx that is not the
// API's JSON sms.ErrUnavailable; another status sms.ErrRejected.
//
// # Delivery receipts
//
// With Config.StatusCallback every message names it as its callback, the
// event's tenant in the URL's query (TenantParam), and carries
// ClientRef(tenant) as its client-ref. A StatusHandler takes receipts as
// a GET query, a POST form or a POST JSON object (the dashboard's three
// webhook methods). With a signature secret (Vonage's signed webhooks of
// the SMS API: StatusConfig.SignatureSecret and SignatureMethod, md5hash
// or an MD5, SHA-1, SHA-256 or SHA-512 HMAC over the sorted parameters)
// it refuses with 403 a receipt whose sig is wrong, and one whose signed
// client-ref is not the URL tenant's (Vonage does not sign the URL: a
// receipt cannot be replayed into another tenant). The JWTs of the
// Messages API's webhooks are not this API's and are not taken.
//
// A verified receipt of an undelivered message (failed, rejected or
// expired) removes its number in the message's tenant when its err-code
// is one of StatusConfig.GoneCodes (3 absent subscriber for good, 4 call
// barred by the user), and suppresses and removes it for err-code 9
// (illegal number: its owner asked not to get the sender's messages), by
// the same calls as twilio.StatusHandler (inbox.Suppress, device.Gone);
// StatusConfig.OnStatus is told every verified receipt. A receipt the
// handler cannot read (a parameter twice, a non-string JSON value), or
// whose number or tenant cannot be stored (NUL, invalid UTF-8) or whose
// number the suppression list refuses, is answered 400 before any
// write; a failed write 500, which Vonage retries.
package vonage
