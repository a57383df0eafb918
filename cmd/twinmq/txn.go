package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// `twinmq txn ...`: Kafka transactions for operators, as Kafka's
// kafka-transactions.sh (list, describe, describe-producers,
// force-terminate), over the Kafka protocol (ListTransactions,
// DescribeTransactions, DescribeProducers, InitProducerId).

// newTxnCommand builds `twinmq txn ...`.
func newTxnCommand() *cobra.Command {
	var f adminFlags
	txnCmd := groupCommand(&cobra.Command{Use: "txn", Short: "List, describe and abort Kafka transactions (over the Kafka protocol)"})
	f.add(txnCmd)

	var states []string
	var pids []int64
	list := &cobra.Command{
		Use:   "list",
		Short: "List transactional ids, their producer ids and states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				ls, err := adm.ListTransactions(ctx, pids, states)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TRANSACTIONAL ID\tPRODUCER ID\tSTATE")
				for _, l := range ls.Sorted() {
					fmt.Fprintf(tw, "%s\t%d\t%s\n", l.TxnID, l.ProducerID, l.State)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringSliceVar(&states, "state", nil, "only these states (Ongoing, PrepareCommit, CompleteAbort, ...)")
	list.Flags().Int64SliceVar(&pids, "producer-id", nil, "only these producer ids")

	describe := &cobra.Command{
		Use:   "describe TRANSACTIONAL-ID...",
		Short: "Show a transaction's state, producer, timeout, age and partitions",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				ds, err := adm.DescribeTransactions(ctx, ids...)
				if err != nil {
					return err
				}
				return printTransactions(out, ds.Sorted(), time.Now())
			})
		},
	}

	var topic string
	var parts []int32
	producers := &cobra.Command{
		Use:   "producers",
		Short: "Show a topic's active producers per partition, with the start offset of any open transaction",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return f.run(cmd, func(ctx context.Context, adm *kadm.Client, out io.Writer) error {
				set := kadm.TopicsSet{}
				if len(parts) == 0 {
					tds, err := adm.ListTopics(ctx, topic)
					if err != nil {
						return err
					}
					if err := tds[topic].Err; err != nil {
						return err
					}
					set.Add(topic, tds[topic].Partitions.Numbers()...)
				} else {
					set.Add(topic, parts...)
				}
				ds, err := adm.DescribeProducers(ctx, set)
				if err != nil {
					return err
				}
				return printProducers(out, ds)
			})
		},
	}
	producers.Flags().StringVar(&topic, "topic", "", "topic to describe (required)")
	producers.Flags().Int32SliceVar(&parts, "partition", nil, "only these partitions")
	_ = producers.MarkFlagRequired("topic")

	var timeoutMs int32
	abort := &cobra.Command{
		Use:   "abort TRANSACTIONAL-ID",
		Short: "Abort a transactional id's open transaction and fence its producer (kafka-transactions.sh force-terminate)",
		Long: "Abort a transactional id's open transaction, hanging or not: the broker writes ABORT markers to its\n" +
			"partitions, so read_committed consumers move past it, and bumps the producer epoch, so the producer\n" +
			"that opened it gets PRODUCER_FENCED. It is InitProducerId with the transactional id, as a new\n" +
			"producer with that id would send; the id keeps working for the next producer.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, ids []string) error {
			return runTxnClient(cmd, &f, func(ctx context.Context, cl *kgo.Client, out io.Writer) error {
				return abortTransaction(ctx, cl, out, ids[0], timeoutMs)
			})
		},
	}
	abort.Flags().Int32Var(&timeoutMs, "timeout-ms", 60000, "transaction timeout recorded for the id (InitProducerId requires one)")

	txnCmd.AddCommand(list, describe, producers, abort)
	return txnCmd
}

// runTxnClient is adminFlags.run with the Kafka client itself, for
// requests kadm does not wrap.
func runTxnClient(cmd *cobra.Command, f *adminFlags, fn func(ctx context.Context, cl *kgo.Client, out io.Writer) error) error {
	cl, err := f.newClient()
	if err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), adminTimeout)
	defer cancel()
	if err := fn(ctx, cl, cmd.OutOrStdout()); err != nil {
		return fmt.Errorf("%s: %w", commandName(cmd), explainPort(f.bootstrap, err))
	}
	return nil
}

func abortTransaction(ctx context.Context, cl *kgo.Client, out io.Writer, id string, timeoutMs int32) error {
	adm := kadm.NewClient(cl)
	before, err := adm.DescribeTransactions(ctx, id)
	if err != nil {
		return err
	}
	d, ok := before[id]
	if !ok || d.Err != nil {
		return fmt.Errorf("transactional id %q: %w", id, firstErr(d.Err, kerr.TransactionalIDNotFound))
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), timeoutMs
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("transactional id %q: %w", id, err)
	}
	what := "no open transaction"
	if d.State == "Ongoing" || d.State == "PrepareAbort" || d.State == "PrepareCommit" {
		what = fmt.Sprintf("aborted the open transaction (%s, %d partitions)", d.State, len(d.Topics.Sorted()))
	}
	fmt.Fprintf(out, "%s: %s; producer %d fenced, epoch now %d\n", id, what, resp.ProducerID, resp.ProducerEpoch)
	return nil
}

func printTransactions(out io.Writer, ds []kadm.DescribedTransaction, now time.Time) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSACTIONAL ID\tSTATE\tPRODUCER ID\tEPOCH\tTIMEOUT MS\tOPEN FOR\tPARTITIONS")
	for _, d := range ds {
		if d.Err != nil {
			fmt.Fprintf(tw, "%s\t%v\t\t\t\t\t\n", d.TxnID, d.Err)
			continue
		}
		age := "-"
		if d.StartTimestamp >= 0 {
			age = now.Sub(time.UnixMilli(d.StartTimestamp)).Round(time.Millisecond).String()
		}
		var parts []string
		for _, tp := range d.Topics.Sorted() {
			for _, p := range tp.Partitions {
				parts = append(parts, fmt.Sprintf("%s-%d", tp.Topic, p))
			}
		}
		if len(parts) == 0 {
			parts = []string{"-"}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", d.TxnID, d.State, d.ProducerID, d.ProducerEpoch,
			d.TimeoutMillis, age, strings.Join(parts, ","))
	}
	return tw.Flush()
}

func printProducers(out io.Writer, ds kadm.DescribedProducersTopics) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tPRODUCER ID\tEPOCH\tLAST SEQUENCE\tLAST TIMESTAMP\tTXN START OFFSET")
	for _, p := range ds.SortedPartitions() {
		if p.Err != nil {
			fmt.Fprintf(tw, "%s\t%d\t%v\t\t\t\t\n", p.Topic, p.Partition, p.Err)
			continue
		}
		for _, ap := range p.ActiveProducers.Sorted() {
			last := "-"
			if ap.LastTimestamp >= 0 {
				last = time.UnixMilli(ap.LastTimestamp).UTC().Format(time.RFC3339Nano)
			}
			start := "-"
			if ap.CurrentTxnStartOffset >= 0 {
				start = fmt.Sprint(ap.CurrentTxnStartOffset)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t%s\n", p.Topic, p.Partition, ap.ProducerID, ap.ProducerEpoch,
				ap.LastSequence, last, start)
		}
	}
	return tw.Flush()
}
