package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Shared by `twinmq topic produce` and `twinmq topic consume`: kcat/rpk
// style format strings, the -o offset spec and times given as RFC3339 or
// unix milliseconds.

// bootstrapServers is --bootstrap-server, which the environment or a
// profile fills when it is not given (applyClientDefaults).
func bootstrapServers(_ *cobra.Command, f *adminFlags) []string {
	return strings.Split(f.bootstrap, ",")
}

// unescape turns the escapes \n, \t, \r and \\ of a format given on a
// command line into their bytes; other backslashes stay.
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\r`, "\r", `\\`, `\`).Replace(s)
}

// piece is one part of a format: a verb ('k', 'v', ...) or, when verb is
// 0, literal text.
type piece struct {
	verb byte
	lit  string
}

// parseFormat splits an unescaped format into verbs (from verbs) and
// literals; "%%" is a literal '%'.
func parseFormat(format, verbs string) ([]piece, error) {
	var ps []piece
	var lit strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 == len(format) {
			return nil, fmt.Errorf("format %q: ends in %%", format)
		}
		i++
		if format[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		if !strings.ContainsRune(verbs, rune(format[i])) {
			return nil, fmt.Errorf("format %q: unknown verb %%%c (known: %s)", format, format[i], verbList(verbs))
		}
		if lit.Len() > 0 {
			ps = append(ps, piece{lit: lit.String()})
			lit.Reset()
		}
		ps = append(ps, piece{verb: format[i]})
	}
	if lit.Len() > 0 {
		ps = append(ps, piece{lit: lit.String()})
	}
	return ps, nil
}

func verbList(verbs string) string {
	var s []string
	for _, v := range verbs {
		s = append(s, "%"+string(v))
	}
	return strings.Join(s, " ")
}

// parseTime reads an RFC3339 time or unix milliseconds.
func parseTime(s string) (time.Time, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want an RFC3339 time or unix milliseconds", s)
	}
	return t, nil
}

// offsetSpec is a parsed -o: where to start in each partition.
type offsetSpec struct {
	kind byte  // 's' start, 'e' end, '@' time, '+' after start, '-' before end, 'o' offset
	n    int64 // the count, the offset, or the time in unix ms
}

// parseOffsetSpec reads -o: start (beginning), end, @<RFC3339|unix ms>,
// +N, -N or an offset.
func parseOffsetSpec(s string) (offsetSpec, error) {
	switch {
	case s == "start" || s == "beginning" || s == "oldest":
		return offsetSpec{kind: 's'}, nil
	case s == "end" || s == "newest":
		return offsetSpec{kind: 'e'}, nil
	case strings.HasPrefix(s, "@"):
		t, err := parseTime(s[1:])
		if err != nil {
			return offsetSpec{}, fmt.Errorf("-o %s: %w", s, err)
		}
		return offsetSpec{kind: '@', n: t.UnixMilli()}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return offsetSpec{}, fmt.Errorf("-o %q: want start, end, @<time>, +N, -N or an offset", s)
	}
	switch {
	case s[0] == '+':
		return offsetSpec{kind: '+', n: n}, nil
	case n < 0:
		return offsetSpec{kind: '-', n: -n}, nil
	}
	return offsetSpec{kind: 'o', n: n}, nil
}

// resolve is the spec's offset in a partition whose offsets run from
// start to end (exclusive), given atTime, the first offset at or after
// the spec's time (only read for '@'). It is clamped to [start, end].
func (o offsetSpec) resolve(start, end, atTime int64) int64 {
	var at int64
	switch o.kind {
	case 's':
		at = start
	case 'e':
		at = end
	case '@':
		at = atTime
	case '+':
		at = start + o.n
	case '-':
		at = end - o.n
	default:
		at = o.n
	}
	return max(start, min(at, end))
}

// kgoOffset is the spec as franz-go's reset offset, for a group's
// partitions without a committed offset.
func (o offsetSpec) kgoOffset() kgo.Offset {
	switch o.kind {
	case 's':
		return kgo.NewOffset().AtStart()
	case 'e':
		return kgo.NewOffset().AtEnd()
	case '@':
		return kgo.NewOffset().AfterMilli(o.n)
	case '+':
		return kgo.NewOffset().AtStart().Relative(o.n)
	case '-':
		return kgo.NewOffset().AtEnd().Relative(-o.n)
	}
	return kgo.NewOffset().At(o.n)
}

// errNoVerbs is a produce format without %k or %v.
var errNoVerbs = errors.New("the format has neither %k nor %v")
