package remoting

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON header (RemotingSerializable / fastjson on Java, jsoniter in the Go
// client; docs/rocketmq-protocol.md §1.3). Output is strict: compact, fixed key order, string
// extFields values, valid UTF-8. Input is lenient: see the package doc.

// appendJSONHeader appends the JSON header of c. Keys come in the Go
// client's order; remark and language are omitted when empty (Java omits a
// null remark; the Java default language is JAVA). extFields is always
// present, its keys sorted, so the bytes are deterministic.
func appendJSONHeader(dst []byte, c *Command) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	if c.Language != "" {
		dst = append(dst, `,"language":`...)
		dst = appendJSONString(dst, c.Language)
	}
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	dst = append(dst, `,"extFields":{`...)
	switch len(c.ExtFields) {
	case 0:
	case 1: // the common case needs no sort and no allocation
		for k, v := range c.ExtFields {
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, v)
		}
	default:
		var arr [16]string
		for i, k := range sortedKeys(arr[:0], c.ExtFields) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, k)
			dst = append(dst, ':')
			dst = appendJSONString(dst, c.ExtFields[k])
		}
	}
	return append(dst, "}}"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Control characters are
// escaped (properties strings carry 0x01 and 0x02 in extFields), and each
// byte of invalid UTF-8 becomes U+FFFD, as a UTF-8 decoder on the peer would
// make it anyway.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonScanner reads one JSON header from a string copy of it: every key
// and value it returns is a substring of that one copy, so a header costs
// one string allocation whatever its field count (the SEND_MESSAGE_V2 of
// the Go client has 14); only strings with escapes or invalid UTF-8 get
// their own.
type jsonScanner struct {
	b string
	i int
}

func (s *jsonScanner) errorf(format string, args ...any) error {
	return fmtErr(ErrMalformed, "JSON header at byte %d: "+format, append([]any{s.i}, args...)...)
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScanner) consume(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// jsonKind is the kind of a scalar read by value.
type jsonKind uint8

const (
	kindString jsonKind = iota
	kindNumber
	kindBool
	kindNull
	kindRaw // object or array, returned as its raw text
)

// decodeJSONHeader decodes a JSON header leniently (package doc).
func decodeJSONHeader(h []byte) (*Command, error) {
	s := jsonScanner{b: string(h)}
	c := &Command{}
	s.ws()
	if !s.consume('{') {
		return nil, s.errorf("want '{'")
	}
	s.ws()
	if !s.consume('}') {
		for {
			if err := s.field(c); err != nil {
				return nil, err
			}
			s.ws()
			if s.consume(',') {
				s.ws()
				continue
			}
			if s.consume('}') {
				break
			}
			return nil, s.errorf("want ',' or '}'")
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, s.errorf("trailing bytes after the header object")
	}
	if c.ExtFields == nil {
		c.ExtFields = make(map[string]string)
	}
	return c, nil
}

// field reads one "key":value member of the header object into c.
func (s *jsonScanner) field(c *Command) error {
	key, err := s.stringValue()
	if err != nil {
		return err
	}
	s.ws()
	if !s.consume(':') {
		return s.errorf("want ':'")
	}
	s.ws()
	switch key {
	case "code":
		c.Code, err = s.int32Value("code")
	case "version":
		c.Version, err = s.int32Value("version")
	case "opaque":
		c.Opaque, err = s.int32Value("opaque")
	case "flag":
		c.Flag, err = s.int32Value("flag")
	case "language":
		var (
			v    string
			kind jsonKind
		)
		v, kind, err = s.value()
		switch {
		case err != nil || kind == kindNull:
		case kind == kindNumber: // fastjson also reads an enum from its ordinal
			n, perr := strconv.ParseUint(v, 10, 8)
			if perr != nil {
				return s.errorf("language %q", v)
			}
			c.Language = languageName(byte(n))
		default:
			c.Language = v
		}
	case "remark":
		var kind jsonKind
		c.Remark, kind, err = s.value()
		if kind == kindNull {
			c.Remark = ""
		}
	case "extFields":
		err = s.extFields(c)
	default: // serializeTypeCurrentRPC and anything newer
		_, _, err = s.value()
	}
	return err
}

// int32Value reads a number, or a string holding one, or null (0).
func (s *jsonScanner) int32Value(name string) (int32, error) {
	v, kind, err := s.value()
	if err != nil || kind == kindNull {
		return 0, err
	}
	if kind != kindNumber && kind != kindString {
		return 0, s.errorf("%s is not a number", name)
	}
	n, perr := strconv.ParseInt(v, 10, 32)
	if perr != nil {
		return 0, s.errorf("%s %q is not an int32", name, v)
	}
	return int32(n), nil
}

// extFields reads the extFields object (or null) into c.ExtFields,
// stringifying non-string values and dropping null ones.
func (s *jsonScanner) extFields(c *Command) error {
	if s.peek() == 'n' {
		_, _, err := s.value()
		return err
	}
	if !s.consume('{') {
		return s.errorf("extFields is not an object")
	}
	if c.ExtFields == nil {
		// Size the map once: each member has a ':' (a value may hold more,
		// which only over-sizes it).
		c.ExtFields = make(map[string]string, min(strings.Count(s.b[s.i:], ":"), 64))
	}
	s.ws()
	if s.consume('}') {
		return nil
	}
	for {
		k, err := s.stringValue()
		if err != nil {
			return err
		}
		s.ws()
		if !s.consume(':') {
			return s.errorf("want ':'")
		}
		s.ws()
		v, kind, err := s.value()
		if err != nil {
			return err
		}
		if kind == kindNull {
			delete(c.ExtFields, k)
		} else {
			c.ExtFields[k] = v
		}
		s.ws()
		if s.consume(',') {
			s.ws()
			continue
		}
		if s.consume('}') {
			return nil
		}
		return s.errorf("want ',' or '}' in extFields")
	}
}

// value reads any JSON value and returns it as Java's toString would print
// the parsed value: strings unescaped, integers as written ("-0" as "0"),
// other numbers as written, true/false, "" for null, objects and arrays as
// their raw text.
func (s *jsonScanner) value() (string, jsonKind, error) {
	switch c := s.peek(); {
	case c == '"':
		v, err := s.stringValue()
		return v, kindString, err
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return "true", kindBool, s.literal("true")
	case c == 'f':
		return "false", kindBool, s.literal("false")
	case c == 'n':
		return "", kindNull, s.literal("null")
	case c == '{' || c == '[':
		raw, err := s.skipComposite()
		return raw, kindRaw, err
	default:
		return "", kindNull, s.errorf("want a value")
	}
}

func (s *jsonScanner) literal(lit string) error {
	if !strings.HasPrefix(s.b[s.i:], lit) {
		return s.errorf("want %s", lit)
	}
	s.i += len(lit)
	return nil
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// number reads a number by the JSON grammar.
func (s *jsonScanner) number() (string, jsonKind, error) {
	start := s.i
	s.consume('-')
	if !s.consume('0') && s.digits() == 0 {
		return "", kindNumber, s.errorf("bad number")
	}
	integer := true
	if s.consume('.') {
		integer = false
		if s.digits() == 0 {
			return "", kindNumber, s.errorf("bad fraction")
		}
	}
	if s.consume('e') || s.consume('E') {
		integer = false
		if !s.consume('+') {
			s.consume('-')
		}
		if s.digits() == 0 {
			return "", kindNumber, s.errorf("bad exponent")
		}
	}
	text := s.b[start:s.i]
	if integer && text == "-0" {
		return "0", kindNumber, nil
	}
	return text, kindNumber, nil
}

// skipComposite skips an object or array, checking only that brackets nest
// and strings terminate, and returns its raw text. It is iterative, so deep
// nesting costs no stack.
func (s *jsonScanner) skipComposite() (string, error) {
	start := s.i
	var stack []byte
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if _, err := s.stringValue(); err != nil {
				return "", err
			}
			continue
		case '{', '[':
			stack = append(stack, c)
		case '}', ']':
			if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
				return "", s.errorf("mismatched %q", c)
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				s.i++
				return s.b[start:s.i], nil
			}
		}
		s.i++
	}
	return "", s.errorf("unterminated object or array")
}

// stringValue reads a JSON string. Without escapes it returns a substring
// of the input; otherwise a new string. The result is valid UTF-8: invalid
// input bytes and lone surrogates become U+FFFD. Raw control characters are
// accepted (fastjson accepts them).
func (s *jsonScanner) stringValue() (string, error) {
	if !s.consume('"') {
		return "", s.errorf("want a string")
	}
	start := s.i
	ascii := true // most headers are: no UTF-8 check then
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if !ascii && !utf8.ValidString(raw) {
				raw = strings.ToValidUTF8(raw, "\uFFFD")
			}
			return raw, nil
		case c == '\\':
			return s.unescape(start)
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return "", s.errorf("unterminated string")
}

// unescape continues a string that has an escape at s.i.
func (s *jsonScanner) unescape(start int) (string, error) {
	// A Builder hands its bytes over as the string: one allocation (the
	// properties value of every send has \u0001 and \u0002 escapes).
	var buf strings.Builder
	buf.Grow(s.i - start + 16)
	buf.WriteString(s.b[start:s.i])
	for s.i < len(s.b) {
		run := s.i
		for s.i < len(s.b) && s.b[s.i] != '"' && s.b[s.i] != '\\' {
			s.i++
		}
		buf.WriteString(s.b[run:s.i])
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		s.i++
		if c == '"' {
			out := buf.String()
			if !utf8.ValidString(out) {
				out = strings.ToValidUTF8(out, "\uFFFD")
			}
			return out, nil
		}
		if s.i >= len(s.b) {
			return "", s.errorf("unterminated escape")
		}
		e := s.b[s.i]
		s.i++
		switch e {
		case '"', '\\', '/':
			buf.WriteByte(e)
		case 'b':
			buf.WriteByte('\b')
		case 'f':
			buf.WriteByte('\f')
		case 'n':
			buf.WriteByte('\n')
		case 'r':
			buf.WriteByte('\r')
		case 't':
			buf.WriteByte('\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return "", s.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r = s.lowSurrogate(r)
			}
			buf.WriteRune(r)
		default:
			return "", s.errorf("bad escape %q", e)
		}
	}
	return "", s.errorf("unterminated string")
}

// lowSurrogate completes the surrogate pair started by hi if a \uXXXX low
// surrogate follows; otherwise it returns U+FFFD and consumes nothing.
func (s *jsonScanner) lowSurrogate(hi rune) rune {
	save := s.i
	if s.consume('\\') && s.consume('u') {
		if lo, ok := s.hex4(); ok {
			if r := utf16.DecodeRune(hi, lo); r != utf8.RuneError {
				return r
			}
		}
	}
	s.i = save
	return utf8.RuneError
}

func (s *jsonScanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}
