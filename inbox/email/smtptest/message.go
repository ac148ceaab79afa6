package smtptest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
)

// Message is one message the server accepted.
type Message struct {
	From string   // envelope sender (MAIL FROM)
	To   []string // envelope recipients (RCPT TO)
	Data []byte   // the raw message as received, headers and body
	User string   // the authenticated user, "" without AUTH
	TLS  bool     // whether the transaction ran over STARTTLS

	// Parsed from Data. ParseError says what could not be parsed; the
	// fields hold what could.
	Header     mail.Header
	Subject    string // decoded from RFC 2047
	Text       string // decoded body of the text/plain part
	HTML       string // decoded body of the text/html part
	ParseError error
}

// HeaderLines returns the raw header section of Data split into lines, with
// folded continuation lines kept as separate entries (they start with a
// space or tab). Tests use it to prove no header was injected.
func (m Message) HeaderLines() []string {
	head, _, _ := bytes.Cut(m.Data, []byte("\r\n\r\n"))
	return strings.Split(string(head), "\r\n")
}

func parseMessage(raw []byte) Message {
	m := Message{Data: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		m.ParseError = fmt.Errorf("smtptest: read message: %w", err)
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		m.ParseError = fmt.Errorf("smtptest: decode subject: %w", err)
	}
	if err := m.walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body); err != nil && m.ParseError == nil {
		m.ParseError = err
	}
	return m
}

// walk decodes a body part and, for multipart bodies, its parts, filling
// Text and HTML with the first part of each type.
func (m *Message) walk(contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("smtptest: content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("smtptest: read %s part: %w", mediaType, err)
			}
			// multipart.Reader decodes quoted-printable itself and hides the header.
			if err := m.walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // ignores line breaks
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("smtptest: decode %s body: %w", mediaType, err)
	}
	switch {
	case mediaType == "text/plain" && m.Text == "":
		m.Text = string(b)
	case mediaType == "text/html" && m.HTML == "":
		m.HTML = string(b)
	}
	return nil
}
