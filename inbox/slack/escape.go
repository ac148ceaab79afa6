package slack

import "strings"

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes user text safe inside Slack message text (mrkdwn and the
// top-level text field): & becomes &amp;, < becomes &lt; and > becomes &gt;.
// Slack's control sequences all start with '<' (<!channel>, <!here>,
// <@U123>, <#C123>, <https://...|label>), so escaped text cannot mention,
// notify or disguise a link. Apply it to every piece of text that did not
// come from the code itself: labels, extra values, subject ids.
func Escape(s string) string { return escaper.Replace(s) }
