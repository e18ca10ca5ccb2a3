package web

import (
	"strconv"
	"strings"
	"unicode"
)

// CEF header fields identifying idletrace (ArcSight "Implementing CEF").
const (
	cefVendor  = "idletrace"
	cefProduct = "idletrace"
	cefVersion = "1"
	// cefMaxValue caps one extension value: CEF consumers truncate long
	// values anyway, and event messages are attacker-controlled text.
	cefMaxValue = 4000
)

// cefRecord is one CEF line: header fields and key=value extensions.
type cefRecord struct {
	SignatureID string
	Name        string
	Severity    int // 0..10
	ext         []string
}

// add appends an extension; keys are fixed identifiers, values are escaped.
func (c *cefRecord) add(key, value string) {
	c.ext = append(c.ext, key+"="+cefExtValue(value))
}

// String renders the record: CEF:0|vendor|product|version|id|name|severity|ext.
func (c cefRecord) String() string {
	var b strings.Builder
	b.WriteString("CEF:0")
	for _, f := range []string{cefVendor, cefProduct, cefVersion, c.SignatureID, c.Name, strconv.Itoa(c.Severity)} {
		b.WriteByte('|')
		b.WriteString(cefHeaderValue(f))
	}
	b.WriteByte('|')
	b.WriteString(strings.Join(c.ext, " "))
	return b.String()
}

// cefHeaderValue escapes a header field: backslash and pipe are escaped,
// and a header cannot hold a line break or control character, so those
// become spaces.
func cefHeaderValue(s string) string {
	var b strings.Builder
	for _, r := range clipRunes(s, 512) {
		switch {
		case r == '\\' || r == '|':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r) || isLineSeparator(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isLineSeparator reports the Unicode line terminators beyond CR and LF
// (NEL, LINE and PARAGRAPH SEPARATOR): readers that split on them would
// start a forged record.
func isLineSeparator(r rune) bool { return r == '\u0085' || r == '\u2028' || r == '\u2029' }

// cefExtValue escapes an extension value: backslash and equals sign are
// escaped, CR and LF become \r and \n (NEL, U+2028 and U+2029 \n too),
// other control characters (C0 and C1) spaces.
// A pipe needs no escape in extensions.
func cefExtValue(s string) string {
	var b strings.Builder
	for _, r := range clipRunes(s, cefMaxValue) {
		switch {
		case r == '\\' || r == '=':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case isLineSeparator(r):
			b.WriteString(`\n`)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func clipRunes(s string, n int) []rune {
	rs := []rune(s)
	if len(rs) > n {
		rs = rs[:n]
	}
	return rs
}
