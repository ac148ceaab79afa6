package activity

// MaskText is maskText, for the test that compares it with the SQL
// function erasure uses.
var MaskText = maskText
