// Package smtptest runs a real SMTP server in-process, on 127.0.0.1, for
// tests and for the demo's dev mode.
//
// The server is emersion/go-smtp speaking the real protocol, so the code
// under test uses its real SMTP client. It records every accepted message
// (envelope, raw data, parsed headers, decoded text and HTML bodies) and can
// be told to refuse the next transactions with a chosen reply code, so tests
// can check how a sender classifies 5xx (permanent) and 4xx (temporary)
// replies:
//
//	srv := smtptest.Start(t, smtptest.Config{})
//	srv.FailNext(1, smtptest.Failure{Code: 550, Stage: smtptest.StageRcpt})
//	// ... send two mails: the first's recipient is refused with 550, the second lands ...
//	msgs, err := srv.WaitFor(1, 5*time.Second)
//
// Waiting is signal based: WaitFor returns as soon as the n-th message has
// arrived and never polls on a timer.
//
// With Config.Username set the server requires AUTH PLAIN; with Config.TLS it
// offers STARTTLS with a self-signed certificate for 127.0.0.1 and localhost,
// which clients trust through Server.RootCAs.
package smtptest
