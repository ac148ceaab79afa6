// Package email renders activity events as mail and delivers them over SMTP.
//
// It is the channel half of the email inbox: it knows templates, headers
// and SMTP, and nothing of asynq, recipients' preferences or the deliveries
// ledger, which the inbox package wires around it.
//
// # Templates
//
// Each (domain, action) has a Template: a subject and a plain-text body as
// text/template, an optional HTML body as html/template (escaped in context,
// so a label holding <script> prints as text). Register checks a template by
// executing it against sample data, so a misspelt field fails at start-up:
//
//	tpls := email.NewTemplates(email.TemplatesConfig{})
//	err := tpls.Register("issue", "comment_added", email.Template{
//		Subject: `{{.Actor.Label}} commented on issue {{.Event.SubjectID}}`,
//		Text:    `{{.Field "body"}}`,
//		HTML:    `<p>{{.Field "body"}}</p>`,
//	})
//
// AnyAction registers a domain-wide fallback; DefaultTemplate fits any action.
//
// # Messages
//
// A Builder renders an event for one Recipient into a Message:
//
//   - Message-ID is derived from (domain, event id, recipient), see
//     MessageID: one event never yields two different mails to one person,
//     and a retried job rebuilds the very same mail.
//   - In-Reply-To and References name the subject's stable thread id
//     ("issue-42@host", see ThreadID), so mail clients group a subject's mails.
//   - With BuilderConfig.Unsubscribe set, List-Unsubscribe carries the app's
//     URL and List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058).
//   - Header values never carry CR or LF (they become spaces) and what is not
//     ASCII is RFC 2047-encoded, so no label can add a header.
//
// BuildDigest renders one mail listing many events ("5 updates on 2 issues");
// which events fall into a period is for the ledger to decide.
//
// # Sending
//
// A Sender delivers a Message with wneessen/go-mail, one connection per
// message, with host, port, AUTH and TLS policy from Config (TLSMandatory by
// default). Failures are *SendError values: a 5xx reply is permanent
// (IsPermanent, errors.Is(err, ErrPermanent)) and the job must not be
// retried; a 4xx reply, a timeout or a connection error is temporary
// (ErrTemporary). Delivery is at least once: a connection lost after the
// server accepted the data but before its reply reached us makes a retry
// send the mail again, with the same Message-ID, which clients collapse.
//
// Package smtptest runs a real SMTP server in-process for tests and dev mode.
package email
