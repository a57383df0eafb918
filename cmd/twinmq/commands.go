package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newRootCommand builds the command tree. environ is the process
// environment (os.Environ()), read for TWINMQ_* settings.
func newRootCommand(environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "twinmq",
		Short: "Kafka and RocketMQ protocols over one RocketMQ-style store",
		Long: "twinmq is one broker that speaks Apache Kafka's wire protocol and Apache\n" +
			"RocketMQ's remoting protocol over one store. With no subcommand it runs serve.\n\n" +
			"Settings come from defaults, then the YAML file given by --config, then\n" +
			"TWINMQ_* environment variables (TWINMQ_FLUSH_DISK_TYPE sets flushDiskType),\n" +
			"then flags.",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          action(environ, run),
	}
	// Admin commands take their addresses from the environment or a
	// profile when no flag gives them (clientprofile.go).
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return applyClientDefaults(cmd, environ) }
	root.PersistentFlags().String("config", "", "YAML config file (keys as in twinmq.example.yaml)")
	root.PersistentFlags().String("log-level", defaultConfig().LogLevel, "log level: debug, info, warn or error (changeable at run time: PUT /debug/loglevel)")
	root.PersistentFlags().String("log-format", defaultConfig().LogFormat, "log format: text or json")
	addServeFlags(root.Flags())

	serve := &cobra.Command{
		Use:   "serve",
		Short: "Run a name server and one broker with both protocols (the default)",
		Args:  cobra.NoArgs,
		RunE:  action(environ, run),
	}
	addServeFlags(serve.Flags())
	addCPUProfile(root)
	addCPUProfile(serve)

	namesrv := &cobra.Command{
		Use:   "namesrv",
		Short: "Run a RocketMQ name server only",
		Args:  cobra.NoArgs,
		RunE:  action(environ, runNamesrv),
	}
	addNamesrvFlags(namesrv.Flags())

	broker := &cobra.Command{
		Use:   "broker",
		Short: "Run one broker (Kafka and RocketMQ) that registers with name servers",
		Args:  cobra.NoArgs,
		RunE:  action(environ, runBroker),
	}
	addBrokerFlags(broker.Flags())
	addCPUProfile(broker)
	broker.AddCommand(newBrokerConfigCommand()) // twinmq broker config get|set (brokerconfig.go)
	root.AddCommand(newProfileCommand(environ)) // twinmq profile (clientprofile.go)

	root.Version = buildVersion() + " " + runtime.Version()
	root.SetVersionTemplate("twinmq {{.Version}}\n")
	version := &cobra.Command{
		Use:   "version",
		Short: "Print the version (also --version)",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "twinmq %s %s\n", buildVersion(), runtime.Version())
		},
	}

	root.AddCommand(serve, namesrv, broker, version, newBenchCommand(), newMessageCommand(), newTopicCommand(), newGroupCommand(), newTxnCommand(), newUserCommand(),
		newClusterCommand(environ), newACLCommand())
	return root
}

// action loads the config for cmd and calls fn with a logger at the
// configured level, writing to the command's stderr.
func action(environ []string, fn func(context.Context, Config, *slog.Logger) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		path, err := cmd.Flags().GetString("config")
		if err != nil {
			return fmt.Errorf("flag --config: %w", err)
		}
		cfg, err := loadConfig(path, cmd.Flags(), environ)
		if err != nil {
			return err
		}
		cfg.levelVar = new(slog.LevelVar)
		return fn(cmd.Context(), cfg, newLogger(cmd.ErrOrStderr(), cfg))
	}
}

// newLogger returns a text or JSON logger (cfg.LogFormat) at cfg's
// (validated) level, held in cfg.levelVar when set (Kafka's broker
// loggers change it, KIP-412) and reachable through the logger for the
// HTTP listener's PUT /debug/loglevel (logLevelOf): one level both change.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	level, _ := cfg.slogLevel()
	lv := cfg.levelVar
	if lv == nil {
		lv = new(slog.LevelVar)
	}
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(leveled{h, lv})
}

// leveled is a handler that carries the LevelVar it filters by, so that
// PUT /debug/loglevel reaches the logger the command was given.
type leveled struct {
	slog.Handler
	lv *slog.LevelVar
}

func (l leveled) WithAttrs(as []slog.Attr) slog.Handler {
	return leveled{l.Handler.WithAttrs(as), l.lv}
}
func (l leveled) WithGroup(g string) slog.Handler { return leveled{l.Handler.WithGroup(g), l.lv} }

// logLevelOf is the LevelVar of a logger newLogger built, or nil.
func logLevelOf(logger *slog.Logger) *slog.LevelVar {
	if l, ok := logger.Handler().(leveled); ok {
		return l.lv
	}
	return nil
}

// Flag names are the config keys in kebab case (flushDiskType is
// --flush-disk-type); loadConfig relies on that.

func addServeFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("data-dir", d.DataDir, "data directory (the store is in <data-dir>/store)")
	addBrokerListenFlags(fs)
	addLimitFlags(fs)
	fs.String("namesrv-listen", d.NamesrvListen, "name server listen address")
	addRegistrationSecretFlag(fs)
	addStoreFlags(fs)
	addDelayFlags(fs)
	addTransactionFlags(fs)
}

func addNamesrvFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("namesrv-listen", d.NamesrvListen, "name server listen address")
	fs.String("http-addr", d.HTTPAddr, "not used: a name server alone serves no HTTP (serve's HTTP listener reports its name server)")
	fs.String("data-dir", d.DataDir, "data directory (the controller's raft state is in <data-dir>/controller)")
	fs.Bool("enable-controller-in-namesrv", d.EnableControllerInNamesrv,
		"run the embedded controller (automatic failover) answering brokers on the name server's port")
	fs.String("controller-peers", d.ControllerPeers, "the controllers' raft group, e.g. 'n0-127.0.0.1:9878;n1-127.0.0.2:9878;n2-127.0.0.3:9878'")
	fs.String("controller-self-id", d.ControllerSelfID, "this node's id in --controller-peers")
	fs.Int("broker-heartbeat-timeout-ms", d.BrokerHeartbeatTimeoutMs, "the controller counts a broker silent this long as dead")
	addRegistrationSecretFlag(fs)
	addTLSModeFlag(fs)
	fs.String("tls-cert-file", d.TLSCertFile, "PEM certificate of the name server port (--tls-mode permissive or enforcing)")
	fs.String("tls-key-file", d.TLSKeyFile, "PEM private key of --tls-cert-file")
	fs.Bool("acl-enable", d.ACLEnable, "RocketMQ: DELETE_TOPIC_IN_NAMESRV, the KV config writes and (without a registration secret) "+
		"UNREGISTER_BROKER need an admin account's AccessKey (accounts from <data-dir>, twinmq acl ak)")
}

func addRegistrationSecretFlag(fs *pflag.FlagSet) {
	fs.String("registration-secret", "", "shared secret brokers sign their name server registrations with "+
		"(empty: anyone who reaches the name server can register; prefer TWINMQ_REGISTRATION_SECRET, flags show in ps)")
}

func addBrokerFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("data-dir", d.DataDir, "data directory (the store is in <data-dir>/store)")
	addBrokerListenFlags(fs)
	addLimitFlags(fs)
	fs.String("ha-addr", d.HAAddr, "HA (replication) listen address")
	fs.String("broker-cluster-name", d.BrokerClusterName, "cluster the broker group belongs to")
	fs.String("broker-name", d.BrokerName, "broker group name (a master and its slaves share it)")
	fs.Int64("broker-id", d.BrokerID, "id in the broker group: 0 for the master, 1 or more for a slave")
	fs.String("broker-role", d.BrokerRole, "ASYNC_MASTER, SYNC_MASTER or SLAVE")
	fs.Int("min-in-sync-replicas", d.MinInSyncReplicas, "replicas (master included) that must be in sync for a SYNC_MASTER to accept writes")
	fs.Bool("slave-read-enable", d.SlaveReadEnable, "a master sends consumers that fell behind to its slave (suggestWhichBrokerId)")
	fs.Int("access-message-in-memory-max-ratio", d.AccessMessageInMemoryMaxRatio, "with --slave-read-enable: how far behind (percent of the machine's memory) a consumer reads from the slave")
	fs.Int("in-sync-replicas", d.InSyncReplicas, "replicas (master included) that must hold a SYNC_MASTER's write to acknowledge it (RocketMQ 5); 0: every in-sync slave")
	fs.String("broker-rack", d.BrokerRack, "Kafka's broker.rack: consumers with this client.rack fetch from this broker when it is a slave (KIP-392)")
	fs.String("ha-master-address", d.HAMasterAddress, "a slave's master HA address (empty: learn it from the name servers)")
	fs.Bool("enable-controller-mode", d.EnableControllerMode, "let the controller assign brokerId and role, and fail over automatically")
	fs.String("controller-addr", d.ControllerAddr, "';'-separated controller addresses (the name servers that embed it)")
	fs.String("namesrv-addr", d.NamesrvAddr, "';'-separated name servers to register with")
	addRegistrationSecretFlag(fs)
	addStoreFlags(fs)
	addDelayFlags(fs)
	addTransactionFlags(fs)
}

func addBrokerListenFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("kafka-addr", d.KafkaAddr, "Kafka protocol listen address (a PLAINTEXT listener; see --listeners)")
	addSecurityFlags(fs)
	addTLSModeFlag(fs)
	fs.String("remoting-addr", d.RemotingAddr, "RocketMQ remoting listen address")
	addGRPCFlags(fs)
	fs.String("http-addr", d.HTTPAddr, "HTTP listen address (/healthz, /readyz, /metrics, /debug/loglevel, the web console)")
	fs.Bool("enable-pprof", d.EnablePprof, "serve net/http/pprof under /debug/pprof/ on the HTTP address")
	fs.Bool("console-enable", d.ConsoleEnable, "serve the web console (/console/ and its API /api/) on the HTTP address")
	fs.Bool("console-read-only", d.ConsoleReadOnly, "the web console shows everything and changes nothing")
	fs.String("advertised-host", d.AdvertisedHost, "host advertised to clients (empty: derive)")
	fs.Int("node-id", d.NodeID, "Kafka node id (-1: keep the persisted one, random at first start)")
	fs.Bool("auto-create-topics-enable", d.AutoCreateTopicsEnable, "Kafka Metadata creates missing topics")
	fs.Int("num-partitions", d.NumPartitions, "partitions of auto-created Kafka topics and the CreateTopics default")
	fs.Int("group-initial-rebalance-delay-ms", d.GroupInitialRebalanceDelayMs,
		"how long a new Kafka consumer group's first rebalance waits for more members")
	fs.Int("transaction-max-timeout-ms", d.TransactionMaxTimeoutMs,
		"longest Kafka transaction timeout a producer may ask for (transaction.max.timeout.ms)")
	addAuthzFlags(fs)
}

func addStoreFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("flush-disk-type", d.FlushDiskType, "ASYNC_FLUSH or SYNC_FLUSH")
	fs.Int("flush-interval-ms", d.FlushIntervalMs, "ASYNC_FLUSH fsync period in milliseconds")
	fs.Int64("segment-size", d.SegmentSize, "CommitLog segment size in bytes")
	fs.Int("retention-hours", d.RetentionHours, "delete segments older than this (-1: keep)")
	fs.Int64("retention-bytes", d.RetentionBytes, "delete oldest segments above this total (-1: no limit)")
	fs.Int64("disk-reserve-bytes", d.DiskReserveBytes, "refuse writes (retriable) while less is free on the data disk (-1: no reserve)")
	fs.Int("resident-segments", d.ResidentSegments, "sealed CommitLog segments kept in resident memory after each flush; older ones go back to the page cache (-1: all)")
}

func addLimitFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.Int64("queued-max-request-bytes", d.QueuedMaxRequestBytes, "request bytes held in memory across all connections (0: no bound)")
	fs.Int64("queued-max-decompress-bytes", d.QueuedMaxDecompressBytes, "decompression output of produced batches in flight (0: no bound)")
	fs.Int("max-connections", d.MaxConnections, "open connections over all listeners (0: no bound)")
	fs.Int("max-connections-per-ip", d.MaxConnectionsPerIP, "open connections from one client address (0: no bound)")
	fs.Int("request-read-timeout-ms", d.RequestReadTimeoutMs, "close a connection whose started request is not complete within this (0: never)")
}

// buildVersion is the module version from the build info, "(devel)" for a
// build from a work tree.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	return bi.Main.Version
}
