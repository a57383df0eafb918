package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// `twinmq message trim`: kafka-delete-records over the Kafka protocol
// (DeleteRecords, key 21). It moves each partition's log start offset
// forward, so records before it are gone to Kafka and RocketMQ consumers
// alike (RocketMQ's min offset moves too); the bytes go with CommitLog
// retention.

// trimRow is one partition `message trim` moved.
type trimRow struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	OldStart  int64  `json:"oldStart"`
	NewStart  int64  `json:"newStart"`
	End       int64  `json:"end"`
	Trimmed   int64  `json:"trimmed"`
}

func newMessageTrimCommand() *cobra.Command {
	var af adminFlags
	var topicFlags []string
	var before, beforeTime string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "trim --topics t[:p,...] (--before-offset N | --before-time TIME)",
		Short: "Delete the records before an offset or a time (Kafka DeleteRecords)",
		Long: "Moves the start of each partition --topics names (all of a topic's partitions\n" +
			"without :p) to --before-offset N (clamped to the partition's end; \"end\" empties it)\n" +
			"or to the first record stored at or after --before-time (RFC 3339 or unix ms).\n" +
			"Records before it are deleted for Kafka and RocketMQ consumers alike.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (before == "") == (beforeTime == "") {
				return fmt.Errorf("%s: give one of --before-offset and --before-time", commandName(cmd))
			}
			ts, err := parseTopicSpecs(topicFlags)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return af.run(cmd, func(ctx context.Context, adm *kadm.Client, _ io.Writer) error {
				rows, err := planTrim(ctx, adm, ts, before, beforeTime)
				if err != nil {
					return err
				}
				var errs []error
				if !dryRun {
					rows, errs = trim(ctx, adm, rows)
				}
				werr := writeOutput(cmd, rows, func(out io.Writer) error {
					tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TOPIC\tPARTITION\tOLD START\tNEW START\tEND\tTRIMMED")
					for _, r := range rows {
						fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", r.Topic, r.Partition, r.OldStart, r.NewStart, r.End, r.Trimmed)
					}
					if dryRun {
						fmt.Fprintln(tw, "dry run: nothing deleted")
					}
					return tw.Flush()
				})
				return errors.Join(append(errs, werr)...)
			})
		},
	}
	af.add(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&topicFlags, "topics", nil, "topic or topic:partition,... (repeatable, required)")
	fl.StringVar(&before, "before-offset", "", `delete the records before this offset ("end": all)`)
	fl.StringVar(&beforeTime, "before-time", "", "delete the records stored before this time (RFC 3339 or unix ms)")
	fl.BoolVar(&dryRun, "dry-run", false, "print the plan and delete nothing")
	_ = cmd.MarkFlagRequired("topics")
	return cmd
}

// planTrim computes each partition's new start offset.
func planTrim(ctx context.Context, adm *kadm.Client, ts topicSpec, before, beforeTime string) ([]trimRow, error) {
	set, err := ts.resolve(ctx, adm, nil)
	if err != nil {
		return nil, err
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
	var at kadm.ListedOffsets
	var offset int64 = -1
	switch {
	case beforeTime != "":
		t, err := parseTime(beforeTime)
		if err != nil {
			return nil, fmt.Errorf("--before-time: %w", err)
		}
		if at, err = adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topics...); err != nil {
			return nil, err
		}
	case strings.EqualFold(before, "end"):
	default:
		if _, err := fmt.Sscan(before, &offset); err != nil || offset < 0 {
			return nil, fmt.Errorf("--before-offset %q: want an offset or end", before)
		}
	}
	var rows []trimRow
	var errs []error
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			s, _ := starts.Lookup(tp.Topic, p)
			e, _ := ends.Lookup(tp.Topic, p)
			if err := firstErr(s.Err, e.Err); err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", tp.Topic, p, err))
				continue
			}
			next := e.Offset // --before-offset end
			switch {
			case at != nil:
				o, ok := at.Lookup(tp.Topic, p)
				if !ok || o.Err != nil {
					errs = append(errs, fmt.Errorf("%s/%d: no offset for the time: %w", tp.Topic, p, firstErr(o.Err, errors.New("not listed"))))
					continue
				}
				if o.Offset >= 0 {
					next = o.Offset
				}
			case offset >= 0:
				next = offset
			}
			next = min(max(next, s.Offset), e.Offset)
			rows = append(rows, trimRow{tp.Topic, p, s.Offset, next, e.Offset, next - s.Offset})
		}
	}
	return rows, errors.Join(errs...)
}

// trim sends DeleteRecords for rows and returns them with the start
// offsets the broker reports, without the partitions that failed.
func trim(ctx context.Context, adm *kadm.Client, rows []trimRow) ([]trimRow, []error) {
	os := kadm.Offsets{}
	for _, r := range rows {
		os.Add(kadm.Offset{Topic: r.Topic, Partition: r.Partition, At: r.NewStart, LeaderEpoch: -1})
	}
	rs, err := adm.DeleteRecords(ctx, os)
	if err != nil {
		return nil, []error{err}
	}
	var out []trimRow
	var errs []error
	for _, r := range rows {
		d, ok := rs.Lookup(r.Topic, r.Partition)
		if !ok || d.Err != nil {
			errs = append(errs, fmt.Errorf("%s/%d: %w", r.Topic, r.Partition, firstErr(d.Err, errors.New("not in the response"))))
			continue
		}
		r.NewStart = d.LowWatermark
		r.Trimmed = max(r.NewStart-r.OldStart, 0)
		out = append(out, r)
	}
	return out, errs
}
