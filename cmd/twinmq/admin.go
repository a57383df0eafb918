package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `twinmq topic ...` and `twinmq group ...`: admin commands over the Kafka
// protocol (docs/design.md section 1), so they work against any twinmq broker,
// and against Kafka. Topics and groups are shared by both protocols
// (docs/cross-protocol.md): what these commands show and change, RocketMQ
// clients see too, except topics whose names Kafka cannot carry.

// adminTimeout bounds one admin command.
const adminTimeout = 30 * time.Second

// adminFlags are the flags every admin command takes.
type adminFlags struct {
	bootstrap string
}

func (f *adminFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.bootstrap, "bootstrap-server", "127.0.0.1:9092",
		"Kafka listener(s) of the broker, comma-separated")
}

// run dials the broker, calls fn with an admin client and a deadline, and
// closes the client.
func (f *adminFlags) run(cmd *cobra.Command, fn func(ctx context.Context, adm *kadm.Client, out io.Writer) error) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(f.bootstrap, ",")...))
	if err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
	defer cancel()
	if err := fn(ctx, kadm.NewClient(cl), cmd.OutOrStdout()); err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), explainPort(f.bootstrap, err))
	}
	return nil
}

// newTopicCommand builds `twinmq topic ...`.
func newTopicCommand() *cobra.Command {
	var f adminFlags
	topic := groupCommand(&cobra.Command{Use: "topic", Short: "List, create, describe, alter and delete topics (over the Kafka protocol)"})
	f.add(topic)

	var internal bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List topics and their partition counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				list := adm.ListTopics
				if internal {
					list = adm.ListTopicsWithInternal
				}
				tds, err := list(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TOPIC\tPARTITIONS")
				for _, td := range tds.Sorted() {
					fmt.Fprintf(tw, "%s\t%d\n", td.Topic, len(td.Partitions))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&internal, "internal", false, "include internal topics")

	var partitions int32
	var configs []string
	create := &cobra.Command{
		Use:   "create TOPIC...",
		Short: "Create topics",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cfg, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				rs, err := adm.CreateTopics(ctx, partitions, -1, cfg, names...)
				if err != nil {
					return err
				}
				return report(out, rs.Sorted(), func(r kadm.CreateTopicResponse) (string, string, error) {
					return r.Topic, fmt.Sprintf("created %s (%s)", r.Topic, plural(int(r.NumPartitions), "partition")), withDetail(r.Err, r.ErrMessage)
				})
			})
		},
	}
	create.Flags().Int32Var(&partitions, "partitions", -1, "partitions (RocketMQ queues) per topic; -1: the broker's num-partitions")
	create.Flags().StringArrayVar(&configs, "config", nil, "topic config as key=value (retention.ms, retention.bytes, ...); repeatable")

	describe := &cobra.Command{
		Use:   "describe TOPIC...",
		Short: "Show each partition's start and end offsets, and the topic's configs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				return describeTopics(ctx, adm, out, names)
			})
		},
	}

	var alterParts int
	alter := &cobra.Command{
		Use:   "alter TOPIC...",
		Short: "Raise partition counts and set or delete topic configs",
		Long: "--partitions N raises each topic to N partitions (counts never fall).\n" +
			"--config key=value sets a config; --config key= deletes it (back to the default).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cfg, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			if alterParts <= 0 && len(cfg) == 0 {
				return errors.New("nothing to alter: give --partitions or --config")
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				return alterTopics(ctx, adm, out, names, alterParts, cfg)
			})
		},
	}
	alter.Flags().IntVar(&alterParts, "partitions", 0, "the new partition count")
	alter.Flags().StringArrayVar(&configs, "config", nil, "key=value to set, key= to delete; repeatable")

	del := &cobra.Command{
		Use:   "delete TOPIC...",
		Short: "Delete topics and their messages",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				rs, err := adm.DeleteTopics(ctx, names...)
				if err != nil {
					return err
				}
				return report(out, rs.Sorted(), func(r kadm.DeleteTopicResponse) (string, string, error) {
					return r.Topic, "deleted " + r.Topic, withDetail(r.Err, r.ErrMessage)
				})
			})
		},
	}
	topic.AddCommand(list, create, describe, alter, del, newTopicProduceCommand(&f), newTopicConsumeCommand(&f))
	return topic
}

// parseConfigs turns key=value flags into a config map; "key=" is a nil
// value (delete, or the default).
func parseConfigs(kvs []string) (map[string]*string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]*string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--config %q: want key=value", kv)
		}
		if v == "" {
			m[k] = nil
		} else {
			m[k] = &v
		}
	}
	return m, nil
}

// withDetail adds a broker's error message to err, if there are both.
func withDetail(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

// report prints the line of each result of rs without an error, in
// order, and returns the others' errors, each prefixed with its name.
func report[T any](out io.Writer, rs []T, result func(T) (name, line string, err error)) error {
	var errs []error
	for _, r := range rs {
		name, line, err := result(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		fmt.Fprintln(out, line)
	}
	return errors.Join(errs...)
}

// describeTopics prints, for each of names, its partitions with start and
// end offsets, and its configs that are not the broker's defaults.
func describeTopics(ctx context.Context, adm *kadm.Client, out io.Writer, names []string) error {
	tds, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return err
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return err
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return err
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		return err
	}
	var errs []error
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, name := range names {
		td, ok := tds[name]
		if !ok || td.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, firstErr(td.Err, errors.New("not found"))))
			continue
		}
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "topic %s: %s\n", name, plural(len(td.Partitions), "partition"))
		fmt.Fprintln(tw, "PARTITION\tSTART\tEND\tMESSAGES")
		for _, p := range td.Partitions.Sorted() {
			s, _ := starts.Lookup(name, p.Partition)
			e, _ := ends.Lookup(name, p.Partition)
			if s.Err != nil || e.Err != nil {
				fmt.Fprintf(tw, "%d\t-\t-\t%v\n", p.Partition, firstErr(s.Err, e.Err))
				continue
			}
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", p.Partition, s.Offset, e.Offset, e.Offset-s.Offset)
		}
		if rc, err := rcs.On(name, nil); err == nil && rc.Err == nil {
			set := slices.DeleteFunc(slices.Clone(rc.Configs), func(c kadm.Config) bool {
				return c.Source != kmsg.ConfigSourceDynamicTopicConfig // not set on the topic
			})
			if len(set) > 0 {
				fmt.Fprintln(tw, "CONFIG\tVALUE")
				for _, c := range set {
					fmt.Fprintf(tw, "%s\t%s\n", c.Key, c.MaybeValue())
				}
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// alterTopics raises names to parts partitions (if parts > 0) and applies
// cfg (nil values delete).
func alterTopics(ctx context.Context, adm *kadm.Client, out io.Writer, names []string, parts int, cfg map[string]*string) error {
	var errs []error
	if parts > 0 {
		rs, err := adm.UpdatePartitions(ctx, parts, names...)
		if err != nil {
			return err
		}
		errs = append(errs, report(out, rs.Sorted(), func(r kadm.CreatePartitionsResponse) (string, string, error) {
			return r.Topic, fmt.Sprintf("%s: %s", r.Topic, plural(int(parts), "partition")), withDetail(r.Err, r.ErrMessage)
		}))
	}
	if len(cfg) > 0 {
		var alters []kadm.AlterConfig
		keys := slices.Sorted(maps.Keys(cfg))
		for _, k := range keys {
			op := kadm.SetConfig
			if cfg[k] == nil {
				op = kadm.DeleteConfig
			}
			alters = append(alters, kadm.AlterConfig{Op: op, Name: k, Value: cfg[k]})
		}
		rs, err := adm.AlterTopicConfigs(ctx, alters, names...)
		if err != nil {
			return err
		}
		errs = append(errs, report(out, rs, func(r kadm.AlterConfigsResponse) (string, string, error) {
			return r.Name, fmt.Sprintf("%s: configs altered (%s)", r.Name, strings.Join(keys, ", ")), withDetail(r.Err, r.ErrMessage)
		}))
	}
	return errors.Join(errs...)
}

// newGroupCommand builds `twinmq group ...`.
func newGroupCommand() *cobra.Command {
	var f adminFlags
	group := groupCommand(&cobra.Command{Use: "group", Short: "List, describe (with lag), seek and delete consumer groups (over the Kafka protocol)"})
	f.add(group)

	list := &cobra.Command{
		Use:   "list",
		Short: "List consumer groups and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				gs, err := adm.ListGroups(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL TYPE")
				for _, g := range gs.Sorted() {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Group, g.State, g.ProtocolType)
				}
				return tw.Flush()
			})
		},
	}

	describe := &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show a group's state, members, committed offsets and lag",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				lags, err := adm.Lag(ctx, names...)
				if err != nil {
					return err
				}
				return printLags(out, names, lags)
			})
		},
	}

	del := &cobra.Command{
		Use:   "delete GROUP...",
		Short: "Delete empty groups and their committed offsets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				rs, err := adm.DeleteGroups(ctx, names...)
				if err != nil {
					return err
				}
				return report(out, rs.Sorted(), func(r kadm.DeleteGroupResponse) (string, string, error) {
					return r.Group, "deleted " + r.Group, r.Err
				})
			})
		},
	}
	group.AddCommand(list, describe, del, newGroupSeekCommand(&f), newGroupOffsetDeleteCommand(&f))
	return group
}

// printLags prints each group of names: its state and members, then one
// row per partition it has committed offsets for or is assigned.
func printLags(out io.Writer, names []string, lags kadm.DescribedGroupLags) error {
	var errs []error
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for i, name := range names {
		l, ok := lags[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not described", name))
			continue
		}
		if err := l.Error(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintf(tw, "group %s: %s, %d members, protocol %q, total lag %d\n",
			name, l.State, len(l.Members), l.Protocol, l.Lag.Total())
		fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER\tCLIENT\tHOST")
		for _, ml := range l.Lag.Sorted() {
			committed, lag := "-", "-"
			if ml.Commit.At >= 0 {
				committed = fmt.Sprint(ml.Commit.At)
			}
			if ml.Lag >= 0 {
				lag = fmt.Sprint(ml.Lag)
			}
			member, client, host := "-", "-", "-"
			if m := ml.Member; m != nil {
				member, client, host = m.MemberID, m.ClientID, m.ClientHost
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
				ml.Topic, ml.Partition, committed, ml.End.Offset, lag, member, client, host)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// firstErr is the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
