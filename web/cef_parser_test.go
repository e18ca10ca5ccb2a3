package web_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// cefRecord is a parsed CEF line.
type cefRecord struct {
	Version  int
	Header   [6]string // vendor, product, version, signature id, name, severity
	Ext      map[string]string
	ExtOrder []string
}

var cefKey = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// parseCEF parses one CEF line strictly (ArcSight "Implementing CEF"):
// seven unescaped pipes; in the header only \| and \\ are escapes; in the
// extension only \\, \=, \n and \r; an unescaped = only ends a key; no raw
// line breaks; keys are alphanumeric; severity is 0..10.
func parseCEF(line string) (*cefRecord, error) {
	if strings.ContainsAny(line, "\r\n") {
		return nil, fmt.Errorf("raw line break")
	}
	if !strings.HasPrefix(line, "CEF:0|") {
		return nil, fmt.Errorf("not CEF:0")
	}
	rest := line[len("CEF:0|"):]
	rec := &cefRecord{Ext: map[string]string{}}
	// Header: six fields, each ended by an unescaped pipe.
	for f := 0; f < 6; f++ {
		var b strings.Builder
		i := 0
		for ; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' {
				if i+1 >= len(rest) || (rest[i+1] != '|' && rest[i+1] != '\\') {
					return nil, fmt.Errorf("header field %d: bad escape", f)
				}
				b.WriteByte(rest[i+1])
				i++
				continue
			}
			if c == '|' {
				break
			}
			b.WriteByte(c)
		}
		if i >= len(rest) {
			return nil, fmt.Errorf("header field %d: no closing pipe", f)
		}
		rec.Header[f] = b.String()
		rest = rest[i+1:]
	}
	if sev, err := strconv.Atoi(rec.Header[5]); err != nil || sev < 0 || sev > 10 {
		return nil, fmt.Errorf("severity %q", rec.Header[5])
	}
	// Extension: key=value pairs separated by spaces; a value runs until
	// the space before the next key's unescaped =.
	if rest == "" {
		return rec, nil
	}
	key := ""
	var val strings.Builder
	flush := func() error {
		if key == "" {
			return nil
		}
		if _, dup := rec.Ext[key]; dup {
			return fmt.Errorf("key %s twice", key)
		}
		rec.Ext[key] = val.String()
		rec.ExtOrder = append(rec.ExtOrder, key)
		val.Reset()
		return nil
	}
	// Read the first key.
	eq := strings.IndexByte(rest, '=')
	if eq <= 0 || !cefKey.MatchString(rest[:eq]) {
		return nil, fmt.Errorf("extension must start with key=")
	}
	key, rest = rest[:eq], rest[eq+1:]
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch c {
		case '\\':
			if i+1 >= len(rest) {
				return nil, fmt.Errorf("dangling backslash in %s", key)
			}
			switch rest[i+1] {
			case '\\', '=':
				val.WriteByte(rest[i+1])
			case 'n':
				val.WriteByte('\n')
			case 'r':
				val.WriteByte('\r')
			default:
				return nil, fmt.Errorf("bad escape \\%c in %s", rest[i+1], key)
			}
			i++
		case '=':
			// The value so far must end with " newkey".
			v := val.String()
			sp := strings.LastIndexByte(v, ' ')
			if sp < 0 || !cefKey.MatchString(v[sp+1:]) {
				return nil, fmt.Errorf("unescaped = in the value of %s", key)
			}
			newKey := v[sp+1:]
			val.Reset()
			val.WriteString(v[:sp])
			if err := flush(); err != nil {
				return nil, err
			}
			key = newKey
		default:
			val.WriteByte(c)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return rec, nil
}
