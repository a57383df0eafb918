package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// `twinmq group seek` and `twinmq group offset-delete`: what
// kafka-consumer-groups --reset-offsets and --delete-offsets do, over the
// Kafka protocol. The offset table is one for both protocols
// (docs/cross-protocol.md), so a Kafka OffsetCommit (key 8) from outside
// group management moves a RocketMQ group's offsets as well: the broker's
// coordinator takes a commit with generation -1 for a group it has no
// Kafka members of, and QUERY_CONSUMER_OFFSET (14) reads the same row.

// seekTarget is where `group seek` moves each partition: exactly one of
// its modes.
type seekTarget struct {
	mode  string // "start", "end", "time", "offset" or "shift"
	value int64  // the unix ms, the offset or the shift
}

// parseSeekTo parses --to: start, end, an RFC 3339 time or unix ms.
func parseSeekTo(s string) (seekTarget, error) {
	switch s {
	case "start", "earliest":
		return seekTarget{mode: "start"}, nil
	case "end", "latest":
		return seekTarget{mode: "end"}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms >= 0 {
		return seekTarget{mode: "time", value: ms}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return seekTarget{mode: "time", value: t.UnixMilli()}, nil
	}
	return seekTarget{}, fmt.Errorf("--to %q: want start, end, an RFC 3339 time (2026-01-02T15:04:05Z) or unix milliseconds", s)
}

// topicSpec is the partitions --topics names per topic; a nil slice is
// every partition.
type topicSpec map[string][]int32

// parseTopicSpecs parses repeated --topics t[:p,...] flags.
func parseTopicSpecs(specs []string) (topicSpec, error) {
	ts := topicSpec{}
	for _, s := range specs {
		name, parts, hasParts := strings.Cut(s, ":")
		if name == "" || (hasParts && parts == "") {
			return nil, fmt.Errorf("--topics %q: want topic or topic:p[,p]", s)
		}
		if !hasParts {
			ts[name] = nil
			continue
		}
		for _, p := range strings.Split(parts, ",") {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--topics %q: partition %q is not a number >= 0", s, p)
			}
			if _, all := ts[name]; all && ts[name] == nil {
				break // the topic is named whole elsewhere
			}
			ts[name] = append(ts[name], int32(n))
		}
	}
	return ts, nil
}

// resolve turns ts into a set of partitions: a topic without partitions
// is every partition the broker's metadata lists for it. With ts empty,
// it is every partition the group has committed an offset for.
func (ts topicSpec) resolve(ctx context.Context, adm *kadm.Client, committed kadm.OffsetResponses) (kadm.TopicsSet, error) {
	set := kadm.TopicsSet{}
	if len(ts) == 0 {
		committed.Each(func(o kadm.OffsetResponse) {
			if o.Err == nil && o.At >= 0 {
				set.Add(o.Topic, o.Partition)
			}
		})
		return set, nil
	}
	var whole []string
	for t, ps := range ts {
		if ps == nil {
			whole = append(whole, t)
		} else {
			set.Add(t, ps...)
		}
	}
	if len(whole) > 0 {
		tds, err := adm.ListTopics(ctx, whole...)
		if err != nil {
			return nil, err
		}
		for _, t := range whole {
			td, ok := tds[t]
			if !ok || td.Err != nil {
				return nil, fmt.Errorf("topic %s: %w", t, firstErr(td.Err, errors.New("not found")))
			}
			for _, p := range td.Partitions {
				set.Add(t, p.Partition)
			}
		}
	}
	return set, nil
}

// seekRow is one line of the plan.
type seekRow struct {
	topic      string
	partition  int32
	current    int64 // -1: nothing committed
	start, end int64
	next       int64
}

// seekView is what `group seek --format json|yaml` prints.
type seekView struct {
	Group                 string        `json:"group"`
	Plan                  []seekViewRow `json:"plan"`
	DryRun                bool          `json:"dryRun"`
	Committed             int           `json:"committed"`
	RocketMQConsumersTold bool          `json:"rocketmqConsumersTold"`
}

// seekViewRow is one partition of a seekView.
type seekViewRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   *int64 `json:"current"` // null: nothing committed
	New       int64  `json:"new"`
	LagAfter  int64  `json:"lagAfter"`
}

// liveMembers returns why group may not be moved now: the Kafka members
// DescribeGroups (key 15) lists, and, when rmqAddr is set, the RocketMQ
// consumers that broker knows from their heartbeats
// (GET_CONSUMER_LIST_BY_GROUP, 38). Empty means none were seen; kafka says
// the members are Kafka members.
func liveMembers(ctx context.Context, adm *kadm.Client, group, rmqAddr string) (live string, kafka bool, err error) {
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", false, err
	}
	d, ok := dg[group]
	if !ok {
		return "", false, fmt.Errorf("group %s not described", group)
	}
	switch {
	case errors.Is(d.Err, kerr.GroupIDNotFound):
		// Not known to the Kafka coordinator: no commits yet, or only
		// RocketMQ consumers that have not written theirs back.
	case d.Err != nil:
		return "", false, d.Err
	}
	if len(d.Members) > 0 {
		return fmt.Sprintf("group %s is %s with %s (Kafka)", group, d.State, plural(len(d.Members), "member")), true, nil
	}
	if rmqAddr == "" {
		return "", false, nil
	}
	ids, err := rocketmqConsumers(ctx, rmqAddr, group)
	if err != nil {
		return "", false, err
	}
	if len(ids) > 0 {
		return fmt.Sprintf("group %s has %s (RocketMQ: %s)", group, plural(len(ids), "live consumer"), strings.Join(ids, ", ")), false, nil
	}
	return "", false, nil
}

// planSeek reads what group has committed on the partitions ts names and
// computes each one's new offset, clamped to [start, end] as
// kafka-consumer-groups does.
func planSeek(ctx context.Context, adm *kadm.Client, group string, ts topicSpec, to seekTarget) ([]seekRow, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	set, err := ts.resolve(ctx, adm, committed)
	if err != nil {
		return nil, err
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("group %s has no committed offsets: name the partitions with --topics", group)
	}
	topics := set.Topics()
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	var atTime kadm.ListedOffsets
	if to.mode == "time" {
		// ListOffsets (key 2) by timestamp: the first record at or after
		// it, the end offset when every record is older.
		if atTime, err = adm.ListOffsetsAfterMilli(ctx, to.value, topics...); err != nil {
			return nil, err
		}
	}
	var rows []seekRow
	var errs []error
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			r, err := seekPartition(tp.Topic, p, committed, starts, ends, atTime, to)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", tp.Topic, p, err))
				continue
			}
			rows = append(rows, r)
		}
	}
	return rows, errors.Join(errs...)
}

// seekPartition computes one partition's row of the plan.
func seekPartition(topic string, p int32, committed kadm.OffsetResponses, starts, ends, atTime kadm.ListedOffsets, to seekTarget) (seekRow, error) {
	r := seekRow{topic: topic, partition: p, current: -1}
	if o, ok := committed.Lookup(topic, p); ok && o.Err == nil {
		r.current = o.At
	}
	s, ok1 := starts.Lookup(topic, p)
	e, ok2 := ends.Lookup(topic, p)
	if !ok1 || !ok2 {
		return r, errors.New("unknown topic or partition")
	}
	if err := firstErr(s.Err, e.Err); err != nil {
		return r, err
	}
	r.start, r.end = s.Offset, e.Offset
	switch to.mode {
	case "start":
		r.next = r.start
	case "end":
		r.next = r.end
	case "offset":
		r.next = to.value
	case "shift":
		if r.current < 0 {
			// As kafka-consumer-groups: a shift needs somewhere to shift from.
			return r, errors.New("no committed offset to shift from")
		}
		r.next = r.current + to.value
	case "time":
		o, ok := atTime.Lookup(topic, p)
		if !ok {
			return r, errors.New("no offset for the time")
		}
		if o.Err != nil {
			return r, o.Err
		}
		r.next = o.Offset
		if r.next < 0 { // no record at or after the time
			r.next = r.end
		}
	}
	r.next = min(max(r.next, r.start), r.end)
	return r, nil
}

// printSeekPlan prints rows as a table.
func printSeekPlan(out io.Writer, rows []seekRow) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT\tNEW\tLAG AFTER")
	for _, r := range rows {
		cur := "-"
		if r.current >= 0 {
			cur = strconv.FormatInt(r.current, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\n", r.topic, r.partition, cur, r.next, r.end-r.next)
	}
	return tw.Flush()
}

// commitSeek commits the plan's new offsets with OffsetCommit (key 8),
// generation -1: a commit from outside group management, which the
// coordinator takes only while the group has no Kafka members.
func commitSeek(ctx context.Context, adm *kadm.Client, group string, rows []seekRow) error {
	os := kadm.Offsets{}
	for _, r := range rows {
		os.Add(kadm.Offset{Topic: r.topic, Partition: r.partition, At: r.next, LeaderEpoch: -1})
	}
	rs, err := adm.CommitOffsets(ctx, group, os)
	if err != nil {
		return err
	}
	var errs []error
	rs.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, o.Err))
		}
	})
	return errors.Join(errs...)
}

// newGroupSeekCommand builds `twinmq group seek`; f is the group
// command's flags.
func newGroupSeekCommand(f *adminFlags) *cobra.Command {
	var to, rmqAddr string
	var toOffset, shiftBy int64
	var topicFlags []string
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "seek GROUP (--to start|end|TIME | --to-offset N | --shift-by ±N)",
		Short: "Move a consumer group's committed offsets (Kafka and RocketMQ groups alike)",
		Long: "Moves the committed offsets of GROUP on every partition it has committed to, or\n" +
			"on those --topics names, and prints the plan: current offset, new offset and lag\n" +
			"after. --to start|end|TIME (RFC 3339 or unix ms: the first record at or after\n" +
			"it), --to-offset N, or --shift-by ±N; new offsets are clamped to each partition's\n" +
			"[start, end]. The offset table is shared, so RocketMQ consumers of GROUP read the\n" +
			"new offsets too. Refuses while the group has live Kafka members (and, with\n" +
			"--broker-addr, RocketMQ consumers) unless --force; the coordinator takes no\n" +
			"commit from outside a group with Kafka members, --force or not.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := seekTargetFlags(cmd, to, toOffset, shiftBy)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			ts, err := parseTopicSpecs(topicFlags)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			group := args[0]
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				live, kafka, err := liveMembers(ctx, adm, group, rmqAddr)
				if err != nil {
					return err
				}
				if live != "" && !force && !dryRun {
					return fmt.Errorf("%s: stop its consumers first, or give --force", live)
				}
				rows, err := planSeek(ctx, adm, group, ts, target)
				if err != nil {
					return err
				}
				view := seekView{Group: group, DryRun: dryRun, Plan: []seekViewRow{}}
				for _, r := range rows {
					vr := seekViewRow{Topic: r.topic, Partition: r.partition, New: r.next, LagAfter: r.end - r.next}
					if r.current >= 0 {
						vr.Current = &r.current
					}
					view.Plan = append(view.Plan, vr)
				}
				text := outputFormat(cmd) == "text"
				if !text {
					defer func() { _ = writeOutput(cmd, &view, nil) }()
				}
				if text {
					if err := printSeekPlan(out, rows); err != nil {
						return err
					}
				}
				if dryRun {
					if text {
						fmt.Fprintln(out, "dry run: nothing committed")
					}
					return nil
				}
				if err := commitSeek(ctx, adm, group, rows); err != nil {
					if kafka {
						// Kafka's coordinator does the same: UNKNOWN_MEMBER_ID.
						return fmt.Errorf("%w\n(the coordinator takes no commit from outside a group that has Kafka members, --force or not: stop them)", err)
					}
					return err
				}
				view.Committed = len(rows)
				if text {
					fmt.Fprintf(out, "committed %s of group %s\n", plural(len(rows), "offset"), group)
				}
				if live != "" && !kafka && len(rows) > 0 {
					// --force with live RocketMQ consumers: tell them (220),
					// or they write their old offsets back.
					if err := resetRocketMQConsumers(ctx, rmqAddr, group, rows); err != nil {
						return err
					}
					view.RocketMQConsumersTold = true
					if text {
						fmt.Fprintf(out, "told the live RocketMQ consumers of group %s to reset (RESET_CONSUMER_CLIENT_OFFSET)\n", group)
					}
				}
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&to, "to", "", "start, end, an RFC 3339 time or unix milliseconds")
	fl.Int64Var(&toOffset, "to-offset", 0, "this offset on every partition")
	fl.Int64Var(&shiftBy, "shift-by", 0, "move each committed offset by N (negative: back)")
	fl.StringArrayVar(&topicFlags, "topics", nil, "topic or topic:partition,... to move (repeatable; default: every partition the group committed to)")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan and commit nothing")
	fl.BoolVar(&force, "force", false, "commit even while RocketMQ consumers are live, and tell them to reset (the coordinator still refuses while Kafka members are)")
	fl.StringVar(&rmqAddr, "broker-addr", "", "RocketMQ remoting address of the broker (host:10911): also refuse while RocketMQ consumers of the group heartbeat to it")
	cmd.MarkFlagsMutuallyExclusive("to", "to-offset", "shift-by")
	return cmd
}

// seekTargetFlags reads the one of --to, --to-offset and --shift-by given.
func seekTargetFlags(cmd *cobra.Command, to string, toOffset, shiftBy int64) (seekTarget, error) {
	fl := cmd.Flags()
	switch {
	case fl.Changed("to"):
		return parseSeekTo(to)
	case fl.Changed("to-offset"):
		if toOffset < 0 {
			return seekTarget{}, fmt.Errorf("--to-offset %d: want an offset >= 0", toOffset)
		}
		return seekTarget{mode: "offset", value: toOffset}, nil
	case fl.Changed("shift-by"):
		return seekTarget{mode: "shift", value: shiftBy}, nil
	}
	return seekTarget{}, errors.New("say where to: --to, --to-offset or --shift-by")
}

// newGroupOffsetDeleteCommand builds `twinmq group offset-delete`:
// OffsetDelete (key 47, KIP-496). The broker refuses partitions of topics
// a live Kafka member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC).
func newGroupOffsetDeleteCommand(f *adminFlags) *cobra.Command {
	var topicFlags []string
	cmd := &cobra.Command{
		Use:   "offset-delete GROUP --topics t[:p,...]",
		Short: "Delete a group's committed offsets on some topics or partitions",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := parseTopicSpecs(topicFlags)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			group := args[0]
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				set, err := ts.resolve(ctx, adm, nil)
				if err != nil {
					return err
				}
				rs, err := adm.DeleteOffsets(ctx, group, set)
				if err != nil {
					return err
				}
				var errs []error
				var deleted []string
				for _, tp := range set.Sorted() {
					for _, p := range tp.Partitions {
						name := fmt.Sprintf("%s/%d", tp.Topic, p)
						if err, ok := rs.Lookup(tp.Topic, p); !ok || err != nil {
							err = firstErr(err, errors.New("not in the response"))
							errs = append(errs, fmt.Errorf("%s: %w", name, err))
						} else {
							deleted = append(deleted, name)
						}
					}
				}
				slices.Sort(deleted)
				werr := writeOutput(cmd, map[string]any{"group": group, "deleted": deleted}, func(out io.Writer) error {
					if len(deleted) > 0 {
						fmt.Fprintf(out, "deleted the offsets of group %s on %s\n", group, strings.Join(deleted, " "))
					}
					return nil
				})
				return errors.Join(append(errs, werr)...)
			})
		},
	}
	cmd.Flags().StringArrayVar(&topicFlags, "topics", nil, "topic or topic:partition,... (repeatable, required)")
	_ = cmd.MarkFlagRequired("topics")
	return cmd
}
