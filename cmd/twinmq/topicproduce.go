package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker/delay"
)

// `twinmq topic produce`: records from stdin, as kcat -P and rpk topic
// produce read them, with the headers by which twinmq gives a Kafka
// record a RocketMQ tag (docs/cross-protocol.md) or a delay
// (docs/delay-retry-dlq.md).

// maxInputRecord bounds one record read from stdin: a record the broker
// would refuse anyway (message.max.bytes is below this) fails early.
const maxInputRecord = 16 << 20

// tagHeader is the Kafka header twinmq reads a RocketMQ tag from.
const tagHeader = "TAGS"

type produceFlags struct {
	key        string
	headers    []string
	partition  int32
	format     string
	tag        string
	delayLevel int
	deliverAt  string
}

func newTopicProduceCommand(af *adminFlags) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin, one per line (kcat/rpk input formats)",
		Long: "Reads records from stdin and produces them with acks=all, then prints how many\n" +
			"records went to which partitions. A record is a line by default; -f gives the\n" +
			"input format: %v (the default) is the value, %k the key, text between them a\n" +
			"separator and text after the last verb the record delimiter (default newline):\n" +
			"-f '%k %v' reads 'key value' lines, -f '%v;' reads ';'-delimited values. Empty\n" +
			"records are skipped. Exits 1 if any record failed.\n\n" +
			"--tag sets the RocketMQ tag (header TAGS); --delay-level N (header DELAY) and\n" +
			"--deliver-at (header TIMER_DELIVER_MS) delay delivery as RocketMQ does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := produce(cmd, af, args[0], f)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.key, "key", "k", "", "key of every record (unless the format has %k)")
	fs.StringArrayVarP(&f.headers, "header", "H", nil, "header key=value on every record; repeatable")
	fs.Int32VarP(&f.partition, "partition", "p", -1, "partition to produce to (-1: by key hash, or sticky without a key)")
	fs.StringVarP(&f.format, "format", "f", "%v\\n", "input format: %k key, %v value; \\n \\t escapes")
	fs.StringVar(&f.tag, "tag", "", "RocketMQ tag of every record (header TAGS)")
	fs.IntVar(&f.delayLevel, "delay-level", 0, "RocketMQ delay level (1: 1 s, 2: 5 s, ...; header DELAY)")
	fs.StringVar(&f.deliverAt, "deliver-at", "", "deliver at this time, RFC3339 or unix ms (header TIMER_DELIVER_MS)")
	cmd.MarkFlagsMutuallyExclusive("delay-level", "deliver-at")
	return cmd
}

// inputFormat is a parsed produce -f: fields separated by literals, and
// the delimiter that ends a record.
type inputFormat struct {
	fields []piece
	delim  string
}

func parseInputFormat(format string) (inputFormat, error) {
	ps, err := parseFormat(unescape(format), "kv")
	if err != nil {
		return inputFormat{}, err
	}
	in := inputFormat{fields: ps, delim: "\n"}
	if n := len(ps); n > 0 && ps[n-1].verb == 0 {
		in.fields, in.delim = ps[:n-1], ps[n-1].lit
	}
	if !slices.ContainsFunc(in.fields, func(p piece) bool { return p.verb != 0 }) {
		return inputFormat{}, fmt.Errorf("format %q: %w", format, errNoVerbs)
	}
	return in, nil
}

// parse splits one record into its key and value; hasKey says whether
// the format has %k.
func (in inputFormat) parse(rec []byte) (key, value []byte, hasKey bool, err error) {
	rest := rec
	for i, p := range in.fields {
		if p.verb == 0 {
			if !bytes.HasPrefix(rest, []byte(p.lit)) {
				return nil, nil, false, fmt.Errorf("record %q: want %q", rec, p.lit)
			}
			rest = rest[len(p.lit):]
			continue
		}
		field := rest
		if i+1 < len(in.fields) && in.fields[i+1].verb == 0 {
			sep := in.fields[i+1].lit
			j := bytes.Index(rest, []byte(sep))
			if j < 0 {
				return nil, nil, false, fmt.Errorf("record %q: no %q after %%%c", rec, sep, p.verb)
			}
			field = rest[:j]
		}
		rest = rest[len(field):]
		if p.verb == 'k' {
			key, hasKey = field, true
		} else {
			value = field
		}
	}
	return key, value, hasKey, nil
}

// split is a bufio.SplitFunc for records ending in in.delim.
func (in inputFormat) split(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.Index(data, []byte(in.delim)); i >= 0 {
		return i + len(in.delim), data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// recordHeaders builds the headers every record gets from the flags.
func (f produceFlags) recordHeaders() ([]kgo.RecordHeader, error) {
	var hs []kgo.RecordHeader
	for _, kv := range f.headers {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-H %q: want key=value", kv)
		}
		hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if f.tag != "" {
		hs = append(hs, kgo.RecordHeader{Key: tagHeader, Value: []byte(f.tag)})
	}
	if f.delayLevel != 0 {
		if f.delayLevel < 0 {
			return nil, fmt.Errorf("--delay-level %d: want 1 or more", f.delayLevel)
		}
		hs = append(hs, kgo.RecordHeader{Key: delay.PropDelay, Value: []byte(strconv.Itoa(f.delayLevel))})
	}
	if f.deliverAt != "" {
		t, err := parseTime(f.deliverAt)
		if err != nil {
			return nil, fmt.Errorf("--deliver-at: %w", err)
		}
		hs = append(hs, kgo.RecordHeader{Key: delay.PropTimerDeliverMs, Value: []byte(strconv.FormatInt(t.UnixMilli(), 10))})
	}
	return hs, nil
}

// produceTally counts the records acknowledged per partition and the
// failures, from franz-go's promise callbacks.
type produceTally struct {
	mu     sync.Mutex // guards the fields below
	parts  map[int32]int
	failed int
	first  error
}

func (t *produceTally) done(r *kgo.Record, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed++
		if t.first == nil {
			t.first = err
		}
		return
	}
	t.parts[r.Partition]++
}

func produce(cmd *cobra.Command, af *adminFlags, topic string, f produceFlags) error {
	in, err := parseInputFormat(f.format)
	if err != nil {
		return err
	}
	headers, err := f.recordHeaders()
	if err != nil {
		return err
	}
	bs := bootstrapServers(cmd, af)
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(adminTimeout)}
	if f.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := af.newClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()

	tally := &produceTally{parts: make(map[int32]int)}
	sc := bufio.NewScanner(cmd.InOrStdin())
	sc.Buffer(make([]byte, 0, 64<<10), maxInputRecord)
	sc.Split(in.split)
	ctx := cmd.Context()
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		key, value, hasKey, err := in.parse(sc.Bytes())
		if err != nil {
			return err
		}
		r := &kgo.Record{Value: bytes.Clone(value), Headers: headers, Partition: f.partition}
		switch {
		case hasKey:
			r.Key = bytes.Clone(key)
		case f.key != "":
			r.Key = []byte(f.key)
		}
		cl.Produce(ctx, r, tally.done)
	}
	readErr := sc.Err()
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err := printTally(cmd.ErrOrStderr(), topic, tally); err != nil {
		return explainPort(strings.Join(bs, ","), err)
	}
	if readErr != nil {
		return fmt.Errorf("reading stdin: %w", readErr)
	}
	return nil
}

// printTally prints "produced 5 records to orders (partitions 0: 3, 1: 2)"
// and returns an error if any record failed.
func printTally(w io.Writer, topic string, t *produceTally) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(t.parts)) {
		n += t.parts[p]
		parts = append(parts, fmt.Sprintf("%d: %d", p, t.parts[p]))
	}
	line := fmt.Sprintf("produced %s to %s", plural(n, "record"), topic)
	if len(parts) > 0 {
		noun := "partitions"
		if len(parts) == 1 {
			noun = "partition"
		}
		line += fmt.Sprintf(" (%s %s)", noun, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w, line)
	if t.failed > 0 {
		return fmt.Errorf("%d of %s failed: %w", t.failed, plural(n+t.failed, "record"), t.first)
	}
	return nil
}
