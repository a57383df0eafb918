// Package filter is RocketMQ's SQL92 message filter: a boolean expression
// over a message's properties, compiled once per subscription and
// evaluated per message, for remoting consumers (expressionType SQL92)
// and RocketMQ 5 gRPC consumers (FilterType SQL) alike. It is pure: no
// I/O, no state but the compiled expression.
//
// The language is RocketMQ's (its filter module, after ActiveMQ's message
// selectors):
//
//	literals     123, -4, 3.14, 'text' ('' for a quote), TRUE, FALSE, NULL
//	identifiers  property names: a letter, _ or $, then letters, digits,
//	             _, $ or . (TAGS and KEYS are the message's tag and keys)
//	comparisons  = <> != > >= < <=, [NOT] BETWEEN a AND b,
//	             [NOT] IN ('a', 'b'), IS [NOT] NULL,
//	             [NOT] STARTSWITH|ENDSWITH|CONTAINS 'text'
//	logic        NOT, AND, OR, parentheses (keywords in any case)
//
// A property's value is a string; compared with a number it is read as
// one, and a value that is no number makes the comparison false. A
// missing property is NULL: comparisons with it are unknown, and unknown
// is not a match (SQL's three-valued logic, as RocketMQ evaluates it).
package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLen bounds an expression's length, and maxDepth its nesting.
const (
	MaxLen   = 4096
	maxDepth = 64
)

// ErrSyntax marks an expression that does not compile.
var ErrSyntax = errors.New("filter: SQL92 syntax error")

// Props looks a message property up.
type Props func(name string) (string, bool)

// Expr is a compiled expression; safe for concurrent use.
type Expr struct {
	root node
	src  string
}

// String is the expression as written.
func (e *Expr) String() string { return e.src }

// Match reports whether a message with props matches (true, not false or
// unknown).
func (e *Expr) Match(props Props) bool { return e.root.eval(props) == yes }

// Compile compiles src.
func Compile(src string) (*Expr, error) {
	if len(src) > MaxLen {
		return nil, fmt.Errorf("%w: expression of %d bytes (at most %d)", ErrSyntax, len(src), MaxLen)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tEOF {
		return nil, p.fail("unexpected %s", p.peek())
	}
	if _, ok := n.(boolNode); !ok {
		return nil, fmt.Errorf("%w: %q is not a condition", ErrSyntax, src)
	}
	return &Expr{root: n, src: src}, nil
}

// truth is SQL's three-valued logic.
type truth int8

const (
	no truth = iota
	yes
	unknown
)

func truthOf(b bool) truth {
	if b {
		return yes
	}
	return no
}

type node interface{ eval(Props) truth }

// boolNode marks nodes that are conditions (not bare operands).
type boolNode interface {
	node
	isCondition()
}

// value is an operand's value: a string, a number or a boolean; null
// when missing.
type value struct {
	kind  byte // 's', 'n', 'b', 0 (null)
	s     string
	n     float64
	b     bool
	isInt bool
	i     int64
}

// operand is a property or a literal.
type operand struct {
	prop string // "" for a literal
	lit  value
}

func (o operand) get(props Props) value {
	if o.prop == "" {
		return o.lit
	}
	s, ok := props(o.prop)
	if !ok {
		return value{}
	}
	return value{kind: 's', s: s}
}

// eval of a bare operand: a boolean literal or property as a condition.
func (o operand) eval(props Props) truth {
	v := o.get(props)
	switch v.kind {
	case 'b':
		return truthOf(v.b)
	case 's':
		if b, err := strconv.ParseBool(v.s); err == nil {
			return truthOf(b)
		}
		return no
	}
	return unknown
}

func (operand) isCondition() {}

// number reads v as a number.
func (v value) number() (value, bool) {
	switch v.kind {
	case 'n':
		return v, true
	case 's':
		s := strings.TrimSpace(v.s)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{kind: 'n', n: float64(i), isInt: true, i: i}, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return value{kind: 'n', n: f}, true
		}
	}
	return value{}, false
}

// compareNum compares two numbers exactly when both are integers.
func compareNum(a, b value) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.n < b.n:
		return -1
	case a.n > b.n:
		return 1
	}
	return 0
}

type cmpNode struct {
	op   string
	l, r operand
}

func (cmpNode) isCondition() {}

func (c cmpNode) eval(props Props) truth {
	l, r := c.l.get(props), c.r.get(props)
	if l.kind == 0 || r.kind == 0 {
		return unknown
	}
	if l.kind == 'n' || r.kind == 'n' {
		ln, lok := l.number()
		rn, rok := r.number()
		if !lok || !rok {
			return no
		}
		return truthOf(holds(c.op, compareNum(ln, rn)))
	}
	if l.kind == 'b' || r.kind == 'b' {
		lb, lok := boolOf(l)
		rb, rok := boolOf(r)
		if !lok || !rok || (c.op != "=" && c.op != "<>") {
			return no
		}
		return truthOf((lb == rb) == (c.op == "="))
	}
	return truthOf(holds(c.op, strings.Compare(l.s, r.s)))
}

func boolOf(v value) (bool, bool) {
	switch v.kind {
	case 'b':
		return v.b, true
	case 's':
		b, err := strconv.ParseBool(v.s)
		return b, err == nil
	}
	return false, false
}

func holds(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<>":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	}
	return c >= 0 // ">="
}

type betweenNode struct {
	not       bool
	x, lo, hi operand
}

func (betweenNode) isCondition() {}

func (b betweenNode) eval(props Props) truth {
	x, lo, hi := b.x.get(props), b.lo.get(props), b.hi.get(props)
	if x.kind == 0 || lo.kind == 0 || hi.kind == 0 {
		return unknown
	}
	xn, ok1 := x.number()
	ln, ok2 := lo.number()
	hn, ok3 := hi.number()
	if !ok1 || !ok2 || !ok3 {
		return no
	}
	in := compareNum(xn, ln) >= 0 && compareNum(xn, hn) <= 0
	return truthOf(in != b.not)
}

type inNode struct {
	not  bool
	x    operand
	list []string
}

func (inNode) isCondition() {}

func (n inNode) eval(props Props) truth {
	x := n.x.get(props)
	if x.kind == 0 {
		return unknown
	}
	s := x.s
	if x.kind != 's' {
		s = x.String()
	}
	for _, v := range n.list {
		if v == s {
			return truthOf(!n.not)
		}
	}
	return truthOf(n.not)
}

// String is v as text (a number or boolean compared with IN's strings).
func (v value) String() string {
	switch v.kind {
	case 'n':
		if v.isInt {
			return strconv.FormatInt(v.i, 10)
		}
		return strconv.FormatFloat(v.n, 'g', -1, 64)
	case 'b':
		return strconv.FormatBool(v.b)
	}
	return v.s
}

type nullNode struct {
	not bool
	x   operand
}

func (nullNode) isCondition() {}

func (n nullNode) eval(props Props) truth {
	return truthOf((n.x.get(props).kind == 0) != n.not)
}

type textNode struct {
	op  string // STARTSWITH, ENDSWITH, CONTAINS
	not bool
	x   operand
	arg string
}

func (textNode) isCondition() {}

func (n textNode) eval(props Props) truth {
	x := n.x.get(props)
	if x.kind == 0 {
		return unknown
	}
	var ok bool
	switch n.op {
	case "STARTSWITH":
		ok = strings.HasPrefix(x.String(), n.arg)
	case "ENDSWITH":
		ok = strings.HasSuffix(x.String(), n.arg)
	default:
		ok = strings.Contains(x.String(), n.arg)
	}
	return truthOf(ok != n.not)
}

type notNode struct{ x node }

func (notNode) isCondition() {}

func (n notNode) eval(props Props) truth {
	switch n.x.eval(props) {
	case yes:
		return no
	case no:
		return yes
	}
	return unknown
}

type logicNode struct {
	and  bool
	l, r node
}

func (logicNode) isCondition() {}

func (n logicNode) eval(props Props) truth {
	l := n.l.eval(props)
	if n.and && l == no || !n.and && l == yes {
		return l
	}
	r := n.r.eval(props)
	switch {
	case n.and && r == no, !n.and && r == yes:
		return r
	case l == unknown || r == unknown:
		return unknown
	}
	return r
}

// Lexer.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tKeyword
	tString
	tNumber
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // keywords upper-cased
	at   int
}

func (t token) String() string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q at %d", t.text, t.at)
}

var keywords = map[string]bool{"AND": true, "OR": true, "NOT": true, "BETWEEN": true, "IN": true, "IS": true,
	"NULL": true, "TRUE": true, "FALSE": true, "STARTSWITH": true, "ENDSWITH": true, "CONTAINS": true}

func lex(src string) ([]token, error) {
	var out []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "(", i})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")", i})
			i++
		case c == ',':
			out = append(out, token{tComma, ",", i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(src) {
					return nil, fmt.Errorf("%w: unterminated string at %d", ErrSyntax, i)
				}
				if src[j] == '\'' {
					if j+1 < len(src) && src[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(src[j])
				j++
			}
			if !utf8.ValidString(b.String()) {
				return nil, fmt.Errorf("%w: string at %d is not UTF-8", ErrSyntax, i)
			}
			out = append(out, token{tString, b.String(), i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == 'e' || src[j] == 'E' ||
				(src[j] == '+' || src[j] == '-') && j > i && (src[j-1] == 'e' || src[j-1] == 'E')) {
				j++
			}
			if j < len(src) && (src[j] == 'L' || src[j] == 'l' || src[j] == 'D' || src[j] == 'd' || src[j] == 'F' || src[j] == 'f') {
				j++ // Java's literal suffixes, as the selector grammar allows
			}
			out = append(out, token{tNumber, src[i:j], i})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(src) && isIdentPart(src[j]) {
				j++
			}
			w := src[i:j]
			if up := strings.ToUpper(w); keywords[up] {
				out = append(out, token{tKeyword, up, i})
			} else {
				out = append(out, token{tIdent, w, i})
			}
			i = j
		case strings.ContainsRune("=<>!", rune(c)):
			n := 1
			if i+1 < len(src) && (src[i+1] == '=' || c == '<' && src[i+1] == '>') {
				n = 2
			}
			op := src[i : i+n]
			switch op {
			case "=", "<>", "<", "<=", ">", ">=":
			case "!=":
				op = "<>"
			default:
				return nil, fmt.Errorf("%w: operator %q at %d", ErrSyntax, op, i)
			}
			out = append(out, token{tOp, op, i})
			i += n
		case c == '-' || c == '+':
			out = append(out, token{tOp, string(c), i})
			i++
		default:
			return nil, fmt.Errorf("%w: unexpected %q at %d", ErrSyntax, c, i)
		}
	}
	return append(out, token{kind: tEOF, at: len(src)}), nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '.' }

// Parser: recursive descent, depth-bounded.

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tKeyword && t.text == k {
		p.pos++
		return true
	}
	return false
}

func (p *parser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrSyntax}, args...)...)
}

func (p *parser) or(depth int) (node, error) {
	if depth > maxDepth {
		return nil, p.fail("nested deeper than %d", maxDepth)
	}
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("OR") {
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = logicNode{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) and(depth int) (node, error) {
	l, err := p.not(depth)
	if err != nil {
		return nil, err
	}
	for p.keyword("AND") {
		r, err := p.not(depth)
		if err != nil {
			return nil, err
		}
		l = logicNode{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) not(depth int) (node, error) {
	if p.keyword("NOT") {
		if depth > maxDepth {
			return nil, p.fail("nested deeper than %d", maxDepth)
		}
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.comparison(depth)
}

func (p *parser) comparison(depth int) (node, error) {
	if p.peek().kind == tLParen {
		p.next()
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.next().kind != tRParen {
			return nil, p.fail("missing ) before %s", p.toks[p.pos-1])
		}
		if _, ok := n.(boolNode); !ok {
			return nil, p.fail("a parenthesized operand is not a condition")
		}
		return n, nil
	}
	x, err := p.operand()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && t.text != "+" && t.text != "-":
		p.next()
		y, err := p.operand()
		if err != nil {
			return nil, err
		}
		return cmpNode{op: t.text, l: x, r: y}, nil
	case t.kind == tKeyword && t.text == "IS":
		p.next()
		not := p.keyword("NOT")
		if !p.keyword("NULL") {
			return nil, p.fail("IS must be followed by [NOT] NULL, not %s", p.peek())
		}
		return nullNode{not: not, x: x}, nil
	case t.kind == tKeyword && (t.text == "NOT" || t.text == "BETWEEN" || t.text == "IN" ||
		t.text == "STARTSWITH" || t.text == "ENDSWITH" || t.text == "CONTAINS"):
		not := p.keyword("NOT")
		switch k := p.next(); {
		case k.kind == tKeyword && k.text == "BETWEEN":
			lo, err := p.operand()
			if err != nil {
				return nil, err
			}
			if !p.keyword("AND") {
				return nil, p.fail("BETWEEN needs AND, not %s", p.peek())
			}
			hi, err := p.operand()
			if err != nil {
				return nil, err
			}
			return betweenNode{not: not, x: x, lo: lo, hi: hi}, nil
		case k.kind == tKeyword && k.text == "IN":
			if p.next().kind != tLParen {
				return nil, p.fail("IN needs a parenthesized list")
			}
			var list []string
			for {
				s := p.next()
				if s.kind != tString {
					return nil, p.fail("IN lists strings, not %s", s)
				}
				list = append(list, s.text)
				if d := p.next(); d.kind == tRParen {
					break
				} else if d.kind != tComma {
					return nil, p.fail("expected , or ) in IN, not %s", d)
				}
			}
			return inNode{not: not, x: x, list: list}, nil
		case k.kind == tKeyword && (k.text == "STARTSWITH" || k.text == "ENDSWITH" || k.text == "CONTAINS"):
			s := p.next()
			if s.kind != tString {
				return nil, p.fail("%s needs a string, not %s", k.text, s)
			}
			return textNode{op: k.text, not: not, x: x, arg: s.text}, nil
		default:
			return nil, p.fail("unexpected %s", k)
		}
	}
	if x.prop == "" && x.lit.kind != 'b' {
		return nil, p.fail("%s is not a condition", t)
	}
	return x, nil // a bare operand: a boolean property or literal
}

// operand reads a property or a literal (numbers with an optional sign).
func (p *parser) operand() (operand, error) {
	t := p.next()
	sign := ""
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		sign, t = t.text, p.next()
		if t.kind != tNumber {
			return operand{}, p.fail("a sign must precede a number, not %s", t)
		}
	}
	switch t.kind {
	case tIdent:
		return operand{prop: t.text}, nil
	case tString:
		return operand{lit: value{kind: 's', s: t.text}}, nil
	case tNumber:
		text := strings.TrimRight(t.text, "LlDdFf")
		if sign == "-" {
			text = "-" + text
		}
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return operand{lit: value{kind: 'n', n: float64(i), isInt: true, i: i}}, nil
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return operand{}, p.fail("number %s", t)
		}
		return operand{lit: value{kind: 'n', n: f}}, nil
	case tKeyword:
		switch t.text {
		case "TRUE", "FALSE":
			return operand{lit: value{kind: 'b', b: t.text == "TRUE"}}, nil
		case "NULL":
			return operand{lit: value{}}, nil
		}
	}
	return operand{}, p.fail("expected a property or a value, not %s", t)
}
