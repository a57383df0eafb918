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
	clientSecurity
}

func (f *adminFlags) add(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.bootstrap, "bootstrap-server", "127.0.0.1:9092",
		"Kafka listener(s) of the broker, comma-separated")
	f.clientSecurity.add(cmd)
	markClient(cmd) // TWINMQ_BOOTSTRAP_SERVER and profiles fill it (clientprofile.go)
}

// newClient is a Kafka client of the broker with opts, authenticated and
// over TLS as the flags say.
func (f *adminFlags) newClient(opts ...kgo.Opt) (*kgo.Client, error) {
	sec, err := f.clientSecurity.opts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(f.bootstrap, ",")...)}, sec...), opts...)...)
}

// run dials the broker, calls fn with an admin client and a deadline, and
// closes the client.
func (f *adminFlags) run(cmd *cobra.Command, fn func(ctx context.Context, adm *kadm.Client, out io.Writer) error) error {
	cl, err := f.newClient()
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
	topic := markAdmin(groupCommand(&cobra.Command{Use: "topic", Short: "List, create, describe, alter and delete topics (over the Kafka protocol)"}))
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
				type row struct {
					Topic      string `json:"topic"`
					Partitions int    `json:"partitions"`
				}
				rows := []row{}
				for _, td := range tds.Sorted() {
					rows = append(rows, row{td.Topic, len(td.Partitions)})
				}
				return writeOutput(cmd, rows, func(out io.Writer) error {
					tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TOPIC\tPARTITIONS")
					for _, r := range rows {
						fmt.Fprintf(tw, "%s\t%d\n", r.Topic, r.Partitions)
					}
					return tw.Flush()
				})
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
				return report(cmd, rs.Sorted(), func(r kadm.CreateTopicResponse) (string, string, any, error) {
					return r.Topic, fmt.Sprintf("created %s (%s)", r.Topic, plural(int(r.NumPartitions), "partition")),
						map[string]any{"topic": r.Topic, "partitions": r.NumPartitions, "created": true}, withDetail(r.Err, r.ErrMessage)
				})
			})
		},
	}
	create.Flags().Int32Var(&partitions, "partitions", -1, "partitions (RocketMQ queues) per topic; -1: the broker's num-partitions")
	topicConfigFlags(create, &configs, "topic config as key=value (retention.ms, retention.bytes, ...); repeatable")

	describe := &cobra.Command{
		Use:   "describe TOPIC...",
		Short: "Show each partition's start and end offsets, and the topic's configs",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				return describeTopics(ctx, cmd, adm, names)
			})
		},
	}

	var alterParts int
	alter := &cobra.Command{
		Use:   "alter TOPIC...",
		Short: "Raise partition counts and set or delete topic configs",
		Long: "--partitions N raises each topic to N partitions (counts never fall).\n" +
			"-c key=value sets a config; -c key= deletes it (back to the default).",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			cfg, err := parseConfigs(configs)
			if err != nil {
				return err
			}
			if alterParts <= 0 && len(cfg) == 0 {
				return errors.New("nothing to alter: give --partitions or --topic-config")
			}
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				return alterTopics(ctx, cmd, adm, names, alterParts, cfg)
			})
		},
	}
	alter.Flags().IntVar(&alterParts, "partitions", 0, "the new partition count")
	topicConfigFlags(alter, &configs, "key=value to set, key= to delete; repeatable")

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
				return report(cmd, rs.Sorted(), func(r kadm.DeleteTopicResponse) (string, string, any, error) {
					return r.Topic, "deleted " + r.Topic, map[string]any{"topic": r.Topic, "deleted": true}, withDetail(r.Err, r.ErrMessage)
				})
			})
		},
	}
	topic.AddCommand(list, create, describe, alter, del, newTopicProduceCommand(&f), newTopicConsumeCommand(&f))
	return topic
}

// topicConfigFlags gives cmd -c/--topic-config key=value, and --config
// key=value as kafka-topics spells it. The global --config FILE (the YAML
// settings of serve, broker and namesrv) means nothing to an admin
// command, so here --config takes topic configs; --topic-config is the
// name help shows, which never looks like a file.
func topicConfigFlags(cmd *cobra.Command, configs *[]string, usage string) {
	cmd.Flags().StringArrayVarP(configs, "topic-config", "c", nil, usage)
	cmd.Flags().StringArrayVar(configs, "config", nil, "the same as --topic-config (kafka-topics' name)")
	_ = cmd.Flags().MarkHidden("config")
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
			return nil, fmt.Errorf("--topic-config %q: want key=value (the YAML --config file is for serve, broker and namesrv)", kv)
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

// report prints the line (or, with --format json|yaml, the data) of
// each result of rs without an error, in order, and returns the others'
// errors, each prefixed with its name.
func report[T any](cmd *cobra.Command, rs []T, result func(T) (name, line string, data any, err error)) error {
	var errs []error
	var lines []string
	items := []any{}
	for _, r := range rs {
		name, line, data, err := result(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		lines = append(lines, line)
		items = append(items, data)
	}
	werr := writeOutput(cmd, items, func(out io.Writer) error {
		for _, l := range lines {
			fmt.Fprintln(out, l)
		}
		return nil
	})
	return errors.Join(append(errs, werr)...)
}

// describeTopics prints, for each of names, its partitions with start and
// end offsets, and its configs that are not the broker's defaults.
func describeTopics(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, names []string) error {
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
	type partition struct {
		Partition int32  `json:"partition"`
		Start     int64  `json:"start"`
		End       int64  `json:"end"`
		Messages  int64  `json:"messages"`
		Error     string `json:"error,omitempty"`
	}
	type topic struct {
		Topic      string            `json:"topic"`
		Partitions []partition       `json:"partitions"`
		Configs    map[string]string `json:"configs,omitempty"`
		configKeys []string
	}
	var errs []error
	var view []topic
	for _, name := range names {
		td, ok := tds[name]
		if !ok || td.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, firstErr(td.Err, errors.New("not found"))))
			continue
		}
		tv := topic{Topic: name, Partitions: []partition{}}
		for _, p := range td.Partitions.Sorted() {
			s, _ := starts.Lookup(name, p.Partition)
			e, _ := ends.Lookup(name, p.Partition)
			if err := firstErr(s.Err, e.Err); err != nil {
				tv.Partitions = append(tv.Partitions, partition{Partition: p.Partition, Error: err.Error()})
				continue
			}
			tv.Partitions = append(tv.Partitions, partition{p.Partition, s.Offset, e.Offset, e.Offset - s.Offset, ""})
		}
		if rc, err := rcs.On(name, nil); err == nil && rc.Err == nil {
			for _, c := range rc.Configs {
				if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
					continue // not set on the topic
				}
				if tv.Configs == nil {
					tv.Configs = map[string]string{}
				}
				tv.Configs[c.Key] = c.MaybeValue()
				tv.configKeys = append(tv.configKeys, c.Key)
			}
		}
		view = append(view, tv)
	}
	werr := writeOutput(cmd, view, func(out io.Writer) error {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for i, tv := range view {
			if i > 0 {
				fmt.Fprintln(tw)
			}
			fmt.Fprintf(tw, "topic %s: %s\n", tv.Topic, plural(len(tv.Partitions), "partition"))
			fmt.Fprintln(tw, "PARTITION\tSTART\tEND\tMESSAGES")
			for _, p := range tv.Partitions {
				if p.Error != "" {
					fmt.Fprintf(tw, "%d\t-\t-\t%s\n", p.Partition, p.Error)
					continue
				}
				fmt.Fprintf(tw, "%d\t%d\t%d\t%d\n", p.Partition, p.Start, p.End, p.Messages)
			}
			if len(tv.configKeys) > 0 {
				fmt.Fprintln(tw, "CONFIG\tVALUE")
				for _, k := range tv.configKeys {
					fmt.Fprintf(tw, "%s\t%s\n", k, tv.Configs[k])
				}
			}
		}
		return tw.Flush()
	})
	return errors.Join(append(errs, werr)...)
}

// alterTopics raises names to parts partitions (if parts > 0) and applies
// cfg (nil values delete).
func alterTopics(ctx context.Context, cmd *cobra.Command, adm *kadm.Client, names []string, parts int, cfg map[string]*string) error {
	var errs []error
	var lines []string
	type row struct {
		Topic      string   `json:"topic"`
		Partitions int      `json:"partitions,omitempty"`
		Configs    []string `json:"configsAltered,omitempty"`
	}
	rows := map[string]*row{}
	var order []string
	rowOf := func(t string) *row {
		if rows[t] == nil {
			rows[t] = &row{Topic: t}
			order = append(order, t)
		}
		return rows[t]
	}
	if parts > 0 {
		rs, err := adm.UpdatePartitions(ctx, parts, names...)
		if err != nil {
			return err
		}
		for _, r := range rs.Sorted() {
			if err := withDetail(r.Err, r.ErrMessage); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.Topic, err))
				continue
			}
			lines = append(lines, fmt.Sprintf("%s: %s", r.Topic, plural(parts, "partition")))
			rowOf(r.Topic).Partitions = parts
		}
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
		for _, r := range rs {
			if err := withDetail(r.Err, r.ErrMessage); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.Name, err))
				continue
			}
			lines = append(lines, fmt.Sprintf("%s: configs altered (%s)", r.Name, strings.Join(keys, ", ")))
			rowOf(r.Name).Configs = keys
		}
	}
	view := []row{}
	for _, t := range order {
		view = append(view, *rows[t])
	}
	werr := writeOutput(cmd, view, func(out io.Writer) error {
		for _, l := range lines {
			fmt.Fprintln(out, l)
		}
		return nil
	})
	return errors.Join(append(errs, werr)...)
}

// newGroupCommand builds `twinmq group ...`.
func newGroupCommand() *cobra.Command {
	var f adminFlags
	group := markAdmin(groupCommand(&cobra.Command{Use: "group", Short: "List, describe (with lag), seek and delete consumer groups (over the Kafka protocol)"}))
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
				type row struct {
					Group        string `json:"group"`
					State        string `json:"state"`
					ProtocolType string `json:"protocolType"`
				}
				rows := []row{}
				for _, g := range gs.Sorted() {
					rows = append(rows, row{g.Group, g.State, g.ProtocolType})
				}
				return writeOutput(cmd, rows, func(out io.Writer) error {
					tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL TYPE")
					for _, r := range rows {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Group, r.State, r.ProtocolType)
					}
					return tw.Flush()
				})
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
				return printLags(cmd, names, lags)
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
				return report(cmd, rs.Sorted(), func(r kadm.DeleteGroupResponse) (string, string, any, error) {
					return r.Group, "deleted " + r.Group, map[string]any{"group": r.Group, "deleted": true}, r.Err
				})
			})
		},
	}
	group.AddCommand(list, describe, del, newGroupSeekCommand(&f), newGroupOffsetDeleteCommand(&f))
	return group
}

// printLags prints each group of names: its state and members, then one
// row per partition it has committed offsets for or is assigned.
func printLags(cmd *cobra.Command, names []string, lags kadm.DescribedGroupLags) error {
	type partition struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Committed *int64 `json:"committed"`
		End       int64  `json:"end"`
		Lag       *int64 `json:"lag"`
		Member    string `json:"member,omitempty"`
		Client    string `json:"client,omitempty"`
		Host      string `json:"host,omitempty"`
	}
	type group struct {
		Group      string      `json:"group"`
		State      string      `json:"state"`
		Members    int         `json:"members"`
		Protocol   string      `json:"protocol"`
		TotalLag   int64       `json:"totalLag"`
		Partitions []partition `json:"partitions"`
	}
	var errs []error
	var view []group
	for _, name := range names {
		l, ok := lags[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: not described", name))
			continue
		}
		if err := l.Error(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		g := group{Group: name, State: l.State, Members: len(l.Members), Protocol: l.Protocol, TotalLag: l.Lag.Total(),
			Partitions: []partition{}}
		for _, ml := range l.Lag.Sorted() {
			p := partition{Topic: ml.Topic, Partition: ml.Partition, End: ml.End.Offset}
			if ml.Commit.At >= 0 {
				p.Committed = &ml.Commit.At
			}
			if ml.Lag >= 0 {
				p.Lag = &ml.Lag
			}
			if m := ml.Member; m != nil {
				p.Member, p.Client, p.Host = m.MemberID, m.ClientID, m.ClientHost
			}
			g.Partitions = append(g.Partitions, p)
		}
		view = append(view, g)
	}
	werr := writeOutput(cmd, view, func(out io.Writer) error {
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for i, g := range view {
			if i > 0 {
				fmt.Fprintln(tw)
			}
			fmt.Fprintf(tw, "group %s: %s, %d members, protocol %q, total lag %d\n", g.Group, g.State, g.Members, g.Protocol, g.TotalLag)
			fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER\tCLIENT\tHOST")
			for _, p := range g.Partitions {
				committed, lag := "-", "-"
				if p.Committed != nil {
					committed = fmt.Sprint(*p.Committed)
				}
				if p.Lag != nil {
					lag = fmt.Sprint(*p.Lag)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
					p.Topic, p.Partition, committed, p.End, lag, dash(p.Member), dash(p.Client), dash(p.Host))
			}
		}
		return tw.Flush()
	})
	return errors.Join(append(errs, werr)...)
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
