package vonage

import "strings"

// gsmChars are the characters of the GSM 03.38 7-bit default alphabet and
// its extension table (which take two septets), but the escape.
const gsmChars = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà" +
	"\f^{}\\[~]|€"

// GSM reports whether every character of s is in the GSM 7-bit alphabet,
// so Vonage can send it as type "text"; another text is sent as
// "unicode" (UCS-2, 70 characters a segment), else its characters
// outside the alphabet would arrive as "?".
func GSM(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune(gsmChars, r) {
			return false
		}
	}
	return true
}
