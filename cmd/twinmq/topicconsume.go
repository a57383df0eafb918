package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// `twinmq topic consume`: records printed with a kcat-style format. By
// default it stops at the end each partition had when it started, as
// `kcat -e` does; --follow keeps waiting.

// consumeVerbs are the output format's verbs: %t topic, %p partition,
// %o offset, %k key, %v value, %h headers, %T timestamp (ms), %s value
// size, %K key size.
const consumeVerbs = "tpokvhTsK"

type consumeFlags struct {
	offset    string
	count     int
	group     string
	format    string
	partition int32
	follow    bool
	tags      []string // --tag split at "||"; nil: every record
}

func newTopicConsumeCommand(af *adminFlags) *cobra.Command {
	var f consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print records with a kcat-style format; stop at the end unless --follow",
		Long: "Prints each record with -f: %t topic, %p partition, %o offset, %k key, %v value,\n" +
			"%h headers (k=v, comma-joined), %T timestamp (unix ms), %s value size, %K key\n" +
			"size, %% a '%'; \\n \\t escapes.\n\n" +
			"-o picks where each partition starts: start, end, @<RFC3339|unix ms> (the first\n" +
			"record at or after that time), +N (N after the start), -N (N before the end) or\n" +
			"an offset (clamped to the partition's range). With -g the group's committed\n" +
			"offsets win and -o applies where it has none; printed records are committed.\n\n" +
			"Stops once every partition is read up to the end it had at the start (kcat -e),\n" +
			"or after -n records; --follow waits for more until interrupted.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := consume(cmd, af, args[0], f); err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&f.offset, "offset", "o", "start", "start, end, @<time>, +N, -N or an offset")
	fs.IntVarP(&f.count, "num", "n", 0, "stop after this many records (0: no limit)")
	fs.StringVarP(&f.group, "group", "g", "", "consume in this consumer group and commit what is printed")
	fs.StringVarP(&f.format, "format", "f", `%v\n`, "output format (see above)")
	fs.Int32VarP(&f.partition, "partition", "p", -1, "only this partition (-1: all; not with -g)")
	fs.BoolVar(&f.follow, "follow", false, "keep waiting for records at the end")
	fs.Var(tagFilter{&f.tags}, "tag", "only records with one of these RocketMQ tags (header TAGS), as 'TagA || TagB'; '*': all")
	cmd.MarkFlagsMutuallyExclusive("group", "partition")
	return cmd
}

// consumeRange is where consume starts in each partition, and the end
// each had when it started (where it stops without --follow).
type consumeRange struct {
	start, end map[int32]int64
}

func consume(cmd *cobra.Command, af *adminFlags, topic string, f consumeFlags) error {
	spec, err := parseOffsetSpec(f.offset)
	if err != nil {
		return err
	}
	out, err := parseFormat(unescape(f.format), consumeVerbs)
	if err != nil {
		return err
	}
	bs := bootstrapServers(cmd, af)
	cl, err := af.newClient()
	if err != nil {
		return err
	}
	defer cl.Close()
	rng, err := consumeRanges(cmd.Context(), kadm.NewClient(cl), topic, spec, f)
	if err != nil {
		return explainPort(strings.Join(bs, ","), err)
	}
	var opts []kgo.Opt
	if f.group != "" {
		opts = append(opts, kgo.ConsumerGroup(f.group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(spec.kgoOffset()), kgo.DisableAutoCommit())
	} else {
		parts := make(map[int32]kgo.Offset, len(rng.start))
		for p, o := range rng.start {
			parts[p] = kgo.NewOffset().At(o)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}))
	}
	cons, err := af.newClient(opts...)
	if err != nil {
		return err
	}
	defer cons.Close()
	return consumeLoop(cmd.Context(), cons, cmd.OutOrStdout(), out, rng, f)
}

// consumeRanges finds each partition's start (from spec, or the group's
// committed offset) and end.
func consumeRanges(ctx context.Context, adm *kadm.Client, topic string, spec offsetSpec, f consumeFlags) (consumeRange, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return consumeRange{}, err
	}
	td := tds[topic]
	if td.Err != nil {
		return consumeRange{}, fmt.Errorf("%s: %w", topic, td.Err)
	}
	if f.partition >= 0 {
		if _, ok := td.Partitions[f.partition]; !ok {
			return consumeRange{}, fmt.Errorf("%s has no partition %d", topic, f.partition)
		}
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return consumeRange{}, err
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return consumeRange{}, err
	}
	var atTime kadm.ListedOffsets
	if spec.kind == '@' {
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, spec.n, topic); err != nil {
			return consumeRange{}, err
		}
	}
	var committed kadm.OffsetResponses
	if f.group != "" {
		if committed, err = adm.FetchOffsets(ctx, f.group); err != nil {
			return consumeRange{}, err
		}
	}
	rng := consumeRange{start: make(map[int32]int64), end: make(map[int32]int64)}
	for p := range td.Partitions {
		if f.partition >= 0 && p != f.partition {
			continue
		}
		s, _ := starts.Lookup(topic, p)
		e, _ := ends.Lookup(topic, p)
		if err := firstErr(s.Err, e.Err); err != nil {
			return consumeRange{}, fmt.Errorf("%s/%d: %w", topic, p, err)
		}
		t, _ := atTime.Lookup(topic, p)
		at := spec.resolve(s.Offset, e.Offset, t.Offset)
		if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
			at = max(s.Offset, min(c.At, e.Offset))
		}
		rng.start[p], rng.end[p] = at, e.Offset
	}
	return rng, nil
}

// consumeLoop prints records until every partition reached its end (or
// forever with --follow), or f.count records; in a group, it commits
// each poll's printed records.
func consumeLoop(ctx context.Context, cl *kgo.Client, w io.Writer, format []piece, rng consumeRange, f consumeFlags) error {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	pos := maps.Clone(rng.start) // the next offset to print per partition
	pending := func() bool {     // some partition is not read to its end
		for p, o := range pos {
			if o < rng.end[p] {
				return true
			}
		}
		return false
	}
	printed := 0
	for (f.follow || pending()) && (f.count == 0 || printed < f.count) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			break
		}
		var errs []error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				errs = append(errs, fmt.Errorf("fetching %s/%d: %w", t, p, err))
			}
		})
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		var done []*kgo.Record
		for it := fs.RecordIter(); !it.Done() && (f.count == 0 || printed < f.count); {
			r := it.Next()
			end := rng.end[r.Partition]
			if !f.follow && r.Offset >= end {
				continue // past the end this run stops at
			}
			done = append(done, r) // committed, also when --tag skips it
			pos[r.Partition] = r.Offset + 1
			if !tagMatches(f.tags, r) {
				continue
			}
			writeRecord(bw, format, r)
			printed++
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if f.group != "" && len(done) > 0 {
			// Committed even when ctx ended (an interrupt with --follow).
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
			err := cl.CommitRecords(cctx, done...)
			cancel()
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
		}
	}
	return nil
}

// tagFilter is --tag: a RocketMQ subscription expression of tags.
type tagFilter struct{ tags *[]string }

func (t tagFilter) String() string { return strings.Join(*t.tags, " || ") }
func (t tagFilter) Type() string   { return "expression" }
func (t tagFilter) Set(s string) error {
	*t.tags = nil
	if strings.TrimSpace(s) == "*" {
		return nil
	}
	for tag := range strings.SplitSeq(s, "||") {
		if tag = strings.TrimSpace(tag); tag != "" {
			*t.tags = append(*t.tags, tag)
		}
	}
	if len(*t.tags) == 0 {
		return fmt.Errorf("%q: want 'TagA || TagB' or '*'", s)
	}
	return nil
}

// tagMatches reports whether r's TAGS header is one of tags (nil: any
// record, tagged or not).
func tagMatches(tags []string, r *kgo.Record) bool {
	if tags == nil {
		return true
	}
	for _, h := range r.Headers {
		if h.Key == tagHeader && slices.Contains(tags, string(h.Value)) {
			return true
		}
	}
	return false
}

// writeRecord appends r to w as format says.
func writeRecord(w *bufio.Writer, format []piece, r *kgo.Record) {
	var num [20]byte
	for _, p := range format {
		switch p.verb {
		case 0:
			w.WriteString(p.lit)
		case 't':
			w.WriteString(r.Topic)
		case 'p':
			w.Write(strconv.AppendInt(num[:0], int64(r.Partition), 10))
		case 'o':
			w.Write(strconv.AppendInt(num[:0], r.Offset, 10))
		case 'k':
			w.Write(r.Key)
		case 'v':
			w.Write(r.Value)
		case 'h':
			for i, h := range r.Headers {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(h.Key)
				w.WriteByte('=')
				w.Write(h.Value)
			}
		case 'T':
			w.Write(strconv.AppendInt(num[:0], r.Timestamp.UnixMilli(), 10))
		case 's':
			w.Write(strconv.AppendInt(num[:0], int64(len(r.Value)), 10))
		case 'K':
			w.Write(strconv.AppendInt(num[:0], int64(len(r.Key)), 10))
		}
	}
}
