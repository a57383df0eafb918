package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/cmd/twinmq/loadtest"
)

// newBenchCommand builds `twinmq bench kafka`: the load tool.
func newBenchCommand() *cobra.Command {
	bench := groupCommand(&cobra.Command{Use: "bench", Short: "Load tools: produce and consume against a broker and report figures"})
	var cfg loadtest.KafkaConfig
	var brokers string
	var kfake, kfakeProcess, progress bool
	var pid int
	var format string
	var parts []int32
	kafka := &cobra.Command{
		Use:   "kafka",
		Short: "Produce and consume N records of size S with P producers against Kafka addresses",
		Long: "Produces and consumes records against --brokers (twinmq or any Kafka) and, with\n" +
			"--kfake, against an in-process franz-go kfake broker in the same run, then prints\n" +
			"throughput, produce and end-to-end latency percentiles, loss and duplicates,\n" +
			"and the ratio of each target to kfake. --kfake-process runs kfake in a child\n" +
			"process instead (`twinmq bench kfake`), so its latency includes the same\n" +
			"hops between processes as that of a broker running apart.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if format != "text" && format != "json" {
				return fmt.Errorf("%s: --format %q: want text or json", commandName(cmd), format)
			}
			if format == "json" {
				out = io.Discard // the text lines; the JSON goes to stdout at the end
			}
			if progress {
				errOut := cmd.ErrOrStderr()
				cfg.Progress = func(p loadtest.Progress) { fmt.Fprintln(errOut, p) }
			}
			var results []loadtest.Result
			if format == "json" {
				defer func() {
					if len(results) > 0 {
						_ = writeBenchJSON(cmd.OutOrStdout(), results)
					}
				}()
			}
			if len(parts) > 1 && cfg.Topic != "" {
				return fmt.Errorf("%s: --topic with several --partitions: the sweep creates a topic per count", commandName(cmd))
			}
			for _, np := range parts {
				cfg := cfg
				cfg.Partitions = np
				if len(parts) > 1 {
					fmt.Fprintf(out, "partitions %d:\n", np)
				}
				round, err := runBenchRound(cmd, out, cfg, brokers, kfake, kfakeProcess, pid)
				results = append(results, round...)
				if err != nil {
					return err
				}
			}
			if len(parts) > 1 {
				printSweep(out, results, parts)
			}
			if bad := failed(results); bad != "" {
				return fmt.Errorf("records lost or duplicated: %s", bad)
			}
			return nil
		},
	}
	f := kafka.Flags()
	f.StringVar(&brokers, "brokers", "", "comma-separated Kafka bootstrap addresses (e.g. 127.0.0.1:9092)")
	f.BoolVar(&kfake, "kfake", false, "also run against an in-process franz-go kfake broker, as a peer baseline")
	f.BoolVar(&kfakeProcess, "kfake-process", false, "also run against a franz-go kfake broker in a child process (twinmq bench kfake), as a peer baseline")
	f.IntVar(&pid, "broker-pid", 0, "pid of the broker process, to report its CPU per MiB")
	f.StringVar(&cfg.Topic, "topic", "", "topic to create and use (default: a random name)")
	f.Int32SliceVar(&parts, "partitions", []int32{4}, "partitions of the topic; several (6,1000) run one round per count, each against every target, and print each target's rate at each count against the first")
	f.IntVar(&cfg.Records, "records", 100_000, "records to produce and consume")
	f.IntVar(&cfg.Size, "size", 1024, "bytes per record value (>= 16)")
	f.IntVar(&cfg.Producers, "producers", 2, "concurrent producer clients")
	f.StringVar(&cfg.Acks, "acks", "all", "acks: all, 1 or 0")
	f.BoolVar(&cfg.Idempotent, "idempotent", true, "idempotent producer (with acks=all)")
	f.StringVar(&cfg.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	f.Float64Var(&cfg.Rate, "rate", 0, "records per second over all producers (0: as fast as possible)")
	f.DurationVar(&cfg.Linger, "linger", 0, "producer linger")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up after this long")
	f.BoolVar(&progress, "progress", true, "print a progress line to stderr every second (rate, e2e p99 so far)")
	f.BoolVar(&cfg.KeepTopic, "keep-topic", false, "keep the topic the run created (default: deleted at the end)")
	f.StringVar(&format, "format", "text", "result format: text or json")
	bench.AddCommand(kafka, newBenchRocketMQCommand(), newBenchGroupsCommand(), newBenchKfakeCommand(), newBenchEchoCommand())
	return bench
}

// newBenchKfakeCommand builds `twinmq bench kfake`: a franz-go kfake
// broker in a process of its own, the peer baseline for a broker that runs
// apart from the load tool.
func newBenchKfakeCommand() *cobra.Command {
	return newLoopbackServerCommand("kfake", 9093,
		"Serve an in-memory franz-go kfake Kafka broker on loopback, as a peer to measure against",
		"Runs a one-broker franz-go kfake cluster on 127.0.0.1:--port (0: a free port),\n"+
			"prints \"listening <addr>\" and serves until interrupted. `twinmq bench kafka\n"+
			"--kfake-process` starts one itself.",
		loadtest.ServeKfake)
}

// newBenchEchoCommand builds `twinmq bench echo`: a do-nothing gnet
// server, the loopback floor that `bench rocketmq --echo-floor` measures.
func newBenchEchoCommand() *cobra.Command {
	return newLoopbackServerCommand("echo", 0,
		"Serve a do-nothing length-prefixed echo on loopback, the network floor to measure against",
		"Runs a gnet server on 127.0.0.1:--port (0: a free port) that answers every\n"+
			"length-prefixed frame with 64 bytes, prints \"listening <addr>\" and serves until\n"+
			"interrupted. `twinmq bench rocketmq --echo-floor` starts one itself.",
		loadtest.ServeEcho)
}

// newLoopbackServerCommand builds a bench command that serves a peer or
// baseline on 127.0.0.1:--port until interrupted.
func newLoopbackServerCommand(use string, defaultPort int, short, long string,
	serve func(ctx context.Context, port int, w io.Writer) error) *cobra.Command {
	var port int
	cmd := &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if port < 0 || port > 65535 {
				return fmt.Errorf("--port %s out of range", strconv.Itoa(port))
			}
			return serve(cmd.Context(), port, cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVar(&port, "port", defaultPort, "port to listen on (0: a free one)")
	return cmd
}

// newBenchRocketMQCommand builds `twinmq bench rocketmq`: sync sends of
// one message per request from 1 and 16 producers (by default), push
// consumption, and optionally the Kafka path with one record per request
// in the same run as the baseline.
func newBenchRocketMQCommand() *cobra.Command {
	var cfg loadtest.RocketMQConfig
	var namesrv, kafkaBrokers string
	var producers []int
	var pid int
	var echoFloor, progress bool
	var format string
	cmd := &cobra.Command{
		Use:   "rocketmq",
		Short: "Send N messages of size S with sync RocketMQ producers and consume them with a push consumer",
		Long: "Runs rocketmq-client-go producers (SendSync, one message per request) and a push\n" +
			"consumer against --namesrv, once per --producers count, and prints send rate,\n" +
			"send and end-to-end latency percentiles, loss and duplicates, and with\n" +
			"--broker-pid the broker's CPU per message. With --kafka-brokers it also runs\n" +
			"the Kafka path with one record per Produce request and prints the ratio.\n" +
			"--echo-floor first measures the CPU a do-nothing gnet server in a process of its\n" +
			"own (`twinmq bench echo`) spends per round trip of the same size, one at a time,\n" +
			"and prints the broker's CPU per send as a multiple of it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if namesrv == "" {
				return fmt.Errorf("give --namesrv")
			}
			if format != "text" && format != "json" {
				return fmt.Errorf("%s: --format %q: want text or json", commandName(cmd), format)
			}
			var all []loadtest.Result
			if format == "json" {
				out = io.Discard // the text lines; the JSON goes to stdout at the end
				defer func() {
					if len(all) > 0 {
						_ = writeBenchJSON(cmd.OutOrStdout(), all)
					}
				}()
			}
			if progress {
				errOut := cmd.ErrOrStderr()
				cfg.Progress = func(p loadtest.Progress) { fmt.Fprintln(errOut, p) }
			}
			cfg.NamesrvAddrs = strings.Split(namesrv, ";")
			var cpu func() (time.Duration, error)
			if pid > 0 {
				cpu = loadtest.ProcessCPU(pid)
			}
			var floor time.Duration
			if echoFloor {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("echo floor: %w", err)
				}
				addr, epid, stop, err := loadtest.StartServerProcess(exe, "bench", "echo", "--port", "0")
				if err != nil {
					return fmt.Errorf("echo floor: %w", err)
				}
				floor, err = loadtest.EchoFloor(addr, cfg.Messages, cfg.Size+256, loadtest.ProcessCPU(epid))
				stop()
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "loopback floor: a do-nothing gnet server, one %d-byte request at a time: %.1f µs CPU per round trip\n",
					cfg.Size+256, float64(floor.Nanoseconds())/1e3)
			}
			var bad []loadtest.Result
			for _, n := range producers {
				c := cfg
				c.Producers, c.CPU = n, cpu
				res, err := loadtest.RunRocketMQ(cmd.Context(), fmt.Sprintf("rocketmq/%d", n), c)
				if err != nil {
					return fmt.Errorf("rocketmq with %d producers: %w", n, err)
				}
				fmt.Fprintln(out, res)
				bad = append(bad, res.Result)
				all = append(all, res.Result)
				if floor > 0 && res.SendCPU > 0 {
					fmt.Fprintf(out, "rocketmq/%d broker CPU per send: %.1fx the loopback floor\n",
						n, float64(res.SendCPUPerMessage())/float64(floor))
				}
				if kafkaBrokers == "" {
					continue
				}
				k, err := loadtest.RunKafkaSync(cmd.Context(), fmt.Sprintf("kafka/%d", n), strings.Split(kafkaBrokers, ","),
					"", cfg.Messages, cfg.Size, n, cpu)
				if err != nil {
					return fmt.Errorf("kafka with %d producers: %w", n, err)
				}
				fmt.Fprintln(out, k)
				all = append(all, k.Result)
				fmt.Fprintf(out, "ratio rocketmq/kafka with %d producers: send rate %.2fx, send p50 latency %.2fx\n",
					n, res.SendsPerSec()/k.SendsPerSec(), float64(res.ProduceP50)/float64(k.ProduceP50))
			}
			if f := failed(bad); f != "" {
				return fmt.Errorf("messages lost or duplicated: %s", f)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&namesrv, "namesrv", "", "name server addresses, ';'-separated (e.g. 127.0.0.1:9876)")
	f.StringVar(&kafkaBrokers, "kafka-brokers", "", "also run the Kafka path (one record per request) against these addresses")
	f.IntVar(&pid, "broker-pid", 0, "pid of the broker process, to report its CPU per message")
	f.StringVar(&cfg.Topic, "topic", "", "topic to use (default: a new random name per run, auto-created)")
	f.IntVar(&cfg.Messages, "messages", 20_000, "messages to send and consume per run")
	f.IntVar(&cfg.Size, "size", 1024, "bytes per message body (>= 16)")
	f.IntSliceVar(&producers, "producers", []int{1, 16}, "concurrent sync producers; one run per value")
	f.BoolVar(&cfg.ConsumeAfterSend, "consume-after-send", false, "start the consumer after the sends, so the send phase's broker CPU is the sends' alone")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up a run after this long")
	f.BoolVar(&echoFloor, "echo-floor", false, "first measure a do-nothing server's CPU per round trip, the loopback floor")
	f.BoolVar(&progress, "progress", true, "print a progress line to stderr every second (rate, e2e p99 so far)")
	f.StringVar(&format, "format", "text", "result format: text or json")
	return cmd
}

// newBenchGroupsCommand builds `twinmq bench groups`: rebalance time of
// franz-go members per group protocol, and many groups committing.
func newBenchGroupsCommand() *cobra.Command {
	var cfg loadtest.GroupsConfig
	var brokers string
	var pid int
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "Measure consumer-group rebalance time and commit latency against Kafka addresses",
		Long: "Starts --members franz-go members on a --partitions topic (the last one once the\n" +
			"others own every partition) and reports the time from its join until every\n" +
			"partition is assigned, balanced and consumed, per --protocols; then --groups\n" +
			"groups commit --commit-partitions offsets every second for --commit-duration and\n" +
			"it reports commit latency percentiles and, with --broker-pid, the broker's CPU.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if brokers == "" {
				return fmt.Errorf("give --brokers")
			}
			cfg.Brokers = strings.Split(brokers, ",")
			if pid > 0 {
				cfg.CPU = loadtest.ProcessCPU(pid)
			}
			res, err := loadtest.RunGroups(cmd.Context(), cfg)
			for _, r := range res.Rebalances {
				fmt.Fprintln(cmd.OutOrStdout(), r)
			}
			if res.Commits != nil {
				fmt.Fprintln(cmd.OutOrStdout(), res.Commits)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&brokers, "brokers", "", "comma-separated Kafka bootstrap addresses (e.g. 127.0.0.1:9092)")
	f.IntVar(&pid, "broker-pid", 0, "pid of the broker process, to report its CPU")
	f.IntVar(&cfg.Members, "members", 3, "members of the rebalance run")
	f.Int32Var(&cfg.Partitions, "partitions", 12, "partitions of the rebalance topic")
	f.StringSliceVar(&cfg.Protocols, "protocols", []string{"classic", "consumer"}, "classic (cooperative-sticky) and/or consumer (KIP-848)")
	f.IntVar(&cfg.Groups, "groups", 1000, "committing groups (0: skip)")
	f.Int32Var(&cfg.CommitPartitions, "commit-partitions", 10, "partitions each group commits")
	f.DurationVar(&cfg.CommitDuration, "commit-duration", 10*time.Second, "how long the groups commit")
	f.IntVar(&cfg.Clients, "clients", 16, "client connections the committing groups share")
	f.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

func failed(rs []loadtest.Result) string {
	var b strings.Builder
	for _, r := range rs {
		if r.Lost > 0 || r.Duplicates > 0 {
			fmt.Fprintf(&b, "%s lost %d dup %d; ", r.Target, r.Lost, r.Duplicates)
		}
	}
	return b.String()
}

// benchResultJSON is one result of `bench kafka --format json`: rates
// and latencies in plain numbers (milliseconds).
type benchResultJSON struct {
	Target       string  `json:"target"`
	Records      int64   `json:"records"`
	Bytes        int64   `json:"bytes"`
	ElapsedMs    float64 `json:"elapsedMs"`
	MsgsPerSec   float64 `json:"msgsPerSec"`
	MBPerSec     float64 `json:"mbPerSec"`
	ProduceP50Ms float64 `json:"produceP50Ms"`
	ProduceP99Ms float64 `json:"produceP99Ms"`
	ProduceP999  float64 `json:"produceP999Ms"`
	E2EP50Ms     float64 `json:"e2eP50Ms"`
	E2EP99Ms     float64 `json:"e2eP99Ms"`
	E2EP999Ms    float64 `json:"e2eP999Ms"`
	Lost         int64   `json:"lost"`
	Duplicates   int64   `json:"duplicates"`
	BrokerCPUMs  float64 `json:"brokerCpuMs,omitempty"`
}

// writeBenchJSON prints rs as a JSON array.
func writeBenchJSON(w io.Writer, rs []loadtest.Result) error {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	out := make([]benchResultJSON, 0, len(rs))
	for _, r := range rs {
		out = append(out, benchResultJSON{Target: r.Target, Records: r.Records, Bytes: r.Bytes, ElapsedMs: ms(r.Elapsed),
			MsgsPerSec: r.MsgsPerSec(), MBPerSec: r.MBPerSec(), ProduceP50Ms: ms(r.ProduceP50), ProduceP99Ms: ms(r.ProduceP99),
			ProduceP999: ms(r.ProduceP999), E2EP50Ms: ms(r.E2EP50), E2EP99Ms: ms(r.E2EP99), E2EP999Ms: ms(r.E2EP999),
			Lost: r.Lost, Duplicates: r.Duplicates, BrokerCPUMs: ms(r.BrokerCPU)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// runBenchRound runs one `bench kafka` round with cfg: against kfake
// first when asked, then against brokers, and prints each result and the
// ratio to kfake.
func runBenchRound(cmd *cobra.Command, out io.Writer, cfg loadtest.KafkaConfig, brokers string, kfake, kfakeProcess bool, pid int) ([]loadtest.Result, error) {
	var results []loadtest.Result
	if kfake || kfakeProcess {
		start := loadtest.StartKfake
		kfakePid := 0
		if kfakeProcess {
			start = func() (string, func(), error) {
				exe, err := os.Executable()
				if err != nil {
					return "", nil, fmt.Errorf("kfake process: %w", err)
				}
				addr, pid, stop, err := loadtest.StartServerProcess(exe, "bench", "kfake", "--port", "0")
				kfakePid = pid
				return addr, stop, err
			}
		}
		addr, stop, err := start()
		if err != nil {
			return nil, err
		}
		c := cfg
		c.Brokers = []string{addr}
		if kfakePid > 0 {
			// kfake in its own process: its CPU per message is the
			// baseline the broker's is compared with (issue 19).
			c.CPU = loadtest.ProcessCPU(kfakePid)
		}
		res, err := loadtest.RunKafka(cmd.Context(), "kfake", c)
		stop()
		if err != nil {
			return results, fmt.Errorf("kfake: %w", err)
		}
		fmt.Fprintln(out, res)
		results = append(results, res)
	}
	if brokers != "" {
		c := cfg
		c.Brokers = strings.Split(brokers, ",")
		if pid > 0 {
			c.CPU = loadtest.ProcessCPU(pid)
		}
		res, err := loadtest.RunKafka(cmd.Context(), brokers, c)
		if err != nil {
			return results, fmt.Errorf("%s: %w", brokers, err)
		}
		fmt.Fprintln(out, res)
		results = append(results, res)
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("nothing to run: give --brokers and/or --kfake or --kfake-process")
	}
	if len(results) == 2 {
		k, t := results[0], results[1]
		fmt.Fprintf(out, "ratio to kfake: throughput %.2fx, produce p50 latency %.2fx, e2e p50 latency %.2fx",
			t.MsgsPerSec()/k.MsgsPerSec(), float64(t.ProduceP50)/float64(k.ProduceP50), float64(t.E2EP50)/float64(k.E2EP50))
		if k.BrokerCPU > 0 && t.BrokerCPU > 0 {
			fmt.Fprintf(out, ", broker CPU per message %.2fx", (float64(t.BrokerCPU)/float64(t.Records))/(float64(k.BrokerCPU)/float64(k.Records)))
		}
		fmt.Fprintln(out)
	}
	return results, nil
}

// printSweep prints, for each target of a --partitions sweep, its rate
// and broker CPU per message at each partition count and the ratio of
// the rate to that at the first count (issue 19: a broker with one
// shared CommitLog should keep its rate with many partitions).
func printSweep(out io.Writer, results []loadtest.Result, parts []int32) {
	perRound := len(results) / len(parts)
	fmt.Fprintln(out, "partition sweep (rate against the first count):")
	for t := range perRound {
		first := results[t]
		for i, np := range parts {
			r := results[i*perRound+t]
			fmt.Fprintf(out, "  %-20s %6d partitions %10.0f msgs/s  %.2fx", r.Target, np, r.MsgsPerSec(), r.MsgsPerSec()/first.MsgsPerSec())
			if r.BrokerCPU > 0 {
				fmt.Fprintf(out, "  %.2f µs CPU/msg", float64(r.BrokerCPU.Microseconds())/float64(r.Records))
			}
			fmt.Fprintln(out)
		}
	}
}
