package filter

import (
	"errors"
	"testing"
)

func props(m map[string]string) Props {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestMatch(t *testing.T) {
	msg := props(map[string]string{"a": "10", "b": "abc", "TAGS": "TagA", "f": "2.5", "yes": "true", "neg": "-3", "x": "not-a-number"})
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"a > 5", true},
		{"a > 10", false},
		{"a >= 10 AND a <= 10", true},
		{"a = 10", true},
		{"a <> 10", false},
		{"a != 9", true},
		{"f < 3", true},
		{"f = 2.5", true},
		{"neg < -2", true},
		{"a BETWEEN 1 AND 10", true},
		{"a NOT BETWEEN 1 AND 10", false},
		{"b = 'abc'", true},
		{"b <> 'abc'", false},
		{"b IN ('x', 'abc')", true},
		{"b NOT IN ('x', 'abc')", false},
		{"TAGS IN ('TagA', 'TagB')", true},
		{"missing IS NULL", true},
		{"a IS NOT NULL", true},
		{"missing = 1", false},
		{"NOT (missing = 1)", false}, // unknown stays unknown
		{"missing = 1 OR a = 10", true},
		{"missing = 1 AND a = 10", false},
		{"NOT (missing = 1) OR a = 10", true},
		{"x > 1", false},      // not a number
		{"NOT (x > 1)", true}, // false, not unknown
		{"b STARTSWITH 'ab'", true},
		{"b ENDSWITH 'bc'", true},
		{"b CONTAINS 'z'", false},
		{"b NOT CONTAINS 'z'", true},
		{"yes", true},
		{"yes = TRUE", true},
		{"TRUE", true},
		{"FALSE OR (a > 1 and b = 'abc')", true},
		{"(a > 1) AND ((b = 'abc') OR (b = 'x'))", true},
		{"a > 5L", true},
		{"b = 'it''s'", false},
	} {
		e, err := Compile(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got := e.Match(msg); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, expr := range []string{
		"", "a >", "a = 'x", "a BETWEEN 1", "a IN ()", "a IN (1, 2)", "(a = 1", "a = 1)", "a ==== 1",
		"a", "'text'", "10", "a IS 5", "a = 1 AND", "a LIKE 'x%'", "a # 1", "- a > 1",
	} {
		e, err := Compile(expr)
		if expr == "a" { // a bare property is a boolean condition
			if err != nil {
				t.Errorf("%q: %v", expr, err)
			}
			_ = e
			continue
		}
		if !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: compiled (%v), want a syntax error", expr, err)
		}
	}
	deep := ""
	for range 100 {
		deep += "("
	}
	if _, err := Compile(deep + "a = 1" + deep); !errors.Is(err, ErrSyntax) {
		t.Errorf("100 nested parentheses: %v", err)
	}
	long := make([]byte, MaxLen+1)
	for i := range long {
		long[i] = ' '
	}
	if _, err := Compile(string(long)); !errors.Is(err, ErrSyntax) {
		t.Errorf("an expression over MaxLen: %v", err)
	}
}

// FuzzCompile: no expression panics the compiler or the evaluator, and
// what compiles evaluates the same twice.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{"a > 5 AND b IN ('x', 'y')", "NOT (c IS NULL) OR d BETWEEN -1 AND 2.5e3",
		"TAGS STARTSWITH 'T'", "((((a))))", "'x'''", "a <> b"} {
		f.Add(s)
	}
	msg := props(map[string]string{"a": "7", "b": "x", "c": "", "d": "1e2"})
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Compile(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("%q: error %v is not ErrSyntax", s, err)
			}
			return
		}
		first := e.Match(msg)
		if again := e.Match(msg); again != first {
			t.Fatalf("%q: evaluates differently twice", s)
		}
	})
}
