package main

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/providers/structs"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// envPrefix starts every environment variable twinmq reads. The rest of the
// name is the config key in upper snake case: TWINMQ_FLUSH_DISK_TYPE sets
// flushDiskType.
const envPrefix = "TWINMQ_"

// Config is every setting of the twinmq commands. The koanf tags are the YAML
// keys; they keep RocketMQ's names where one exists (flushDiskType,
// namesrvAddr) and Kafka's otherwise (log.retention.hours becomes
// retentionHours). Flags and environment variables derive from the same key:
// flushIntervalMs is --flush-interval-ms and TWINMQ_FLUSH_INTERVAL_MS.
type Config struct {
	// DataDir holds all durable state; the store lives in DataDir/store.
	DataDir string `koanf:"dataDir"`

	// Listen addresses (host:port; port 0 picks a free port).
	KafkaAddr    string `koanf:"kafkaAddr"`
	RemotingAddr string `koanf:"remotingAddr"`
	HAAddr       string `koanf:"haAddr"`
	HTTPAddr     string `koanf:"httpAddr"`
	// GRPCAddr is the RocketMQ 5 gRPC listener's (empty: derived, grpc.go).
	GRPCAddr      string `koanf:"grpcAddr"`
	NamesrvListen string `koanf:"namesrvListen"`

	// NamesrvAddr is the ';'-separated list of name servers a broker
	// registers with (RocketMQ's namesrvAddr). Used by `twinmq broker` only.
	NamesrvAddr string `koanf:"namesrvAddr"`
	// RegistrationSecret, if set, is shared by name servers and brokers:
	// a name server accepts only REGISTER_BROKER / UNREGISTER_BROKER
	// signed with it, and a broker signs with it (docs/security.md).
	// Prefer TWINMQ_REGISTRATION_SECRET or the YAML file to the flag,
	// which other local users can read in the process list.
	RegistrationSecret string `koanf:"registrationSecret"`
	// AdvertisedHost is the host clients are told to connect to; empty
	// means derive it from the listen address.
	AdvertisedHost string `koanf:"advertisedHost"`

	// Kafka listeners and their security (security.go, docs/security.md):
	// Kafka's listeners, advertised.listeners and
	// listener.security.protocol.map; the PEM files of the TLS listeners
	// and the client certificates they ask for; the SASL mechanisms and
	// the session lifetime (connections.max.reauth.ms).
	Listeners                   string `koanf:"listeners"`
	AdvertisedListeners         string `koanf:"advertisedListeners"`
	ListenerSecurityProtocolMap string `koanf:"listenerSecurityProtocolMap"`
	TLSCertFile                 string `koanf:"tlsCertFile"`
	TLSKeyFile                  string `koanf:"tlsKeyFile"`
	TLSCAFile                   string `koanf:"tlsCaFile"`
	TLSClientAuth               string `koanf:"tlsClientAuth"`
	SASLEnabledMechanisms       string `koanf:"saslEnabledMechanisms"`
	ConnectionsMaxReauthMs      int64  `koanf:"connectionsMaxReauthMs"`
	// TLSMode is RocketMQ's tlsMode for the remoting and name-server
	// ports: disabled, permissive (TLS and plaintext clients) or enforcing
	// (TLS only), with tlsCertFile and tlsKeyFile (security.go).
	TLSMode string `koanf:"tlsMode"`

	// The broker group (RocketMQ's names; docs/cluster.md): a group is one
	// master (brokerId 0) and its slaves (brokerId >= 1), all with the same
	// brokerName in the same brokerClusterName. brokerRole is ASYNC_MASTER
	// (acknowledge at once, replicate behind), SYNC_MASTER (acknowledge
	// once the in-sync slaves have it) or SLAVE. minInSyncReplicas, the
	// master included, must be in sync for a SYNC_MASTER to accept writes.
	// haMasterAddress pins a slave's master HA address (empty: learn it
	// from the name servers).
	// enableControllerMode hands ids and roles to the controller at
	// controllerAddr (';'-separated; the name servers that embed it):
	// brokerId and brokerRole are then ignored, and the controller elects
	// a new master when the master's heartbeats stop.
	EnableControllerMode bool   `koanf:"enableControllerMode"`
	ControllerAddr       string `koanf:"controllerAddr"`
	BrokerClusterName    string `koanf:"brokerClusterName"`
	BrokerName           string `koanf:"brokerName"`
	BrokerID             int64  `koanf:"brokerId"`
	BrokerRole           string `koanf:"brokerRole"`
	MinInSyncReplicas    int    `koanf:"minInSyncReplicas"`
	// InSyncReplicas is RocketMQ 5's inSyncReplicas for a classic
	// SYNC_MASTER; 0 (twinmq's default) waits for every in-sync slave.
	InSyncReplicas int `koanf:"inSyncReplicas"`
	// SlaveReadEnable and AccessMessageInMemoryMaxRatio (RocketMQ's
	// names): a master suggests its slave to consumers more than that
	// percentage of the machine's memory behind its written end.
	SlaveReadEnable               bool   `koanf:"slaveReadEnable"`
	AccessMessageInMemoryMaxRatio int    `koanf:"accessMessageInMemoryMaxRatio"`
	HAMasterAddress               string `koanf:"haMasterAddress"`
	// BrokerRack is Kafka's broker.rack: shown in Metadata, and a master
	// sends a consumer whose client.rack matches a slave's to fetch from
	// that slave (KIP-392, docs/cluster.md).
	BrokerRack string `koanf:"brokerRack"`

	// The controller embedded in `twinmq namesrv` (docs/cluster.md#controller):
	// enableControllerInNamesrv turns it on; controllerPeers lists the raft
	// group ("n0-127.0.0.1:9878;n1-..."; each node's raft traffic on its
	// own entry's address) and controllerSelfId names this node in it.
	// brokerHeartbeatTimeoutMs is how long a silent broker stays alive.
	// The raft state lives in DataDir/controller.
	EnableControllerInNamesrv bool   `koanf:"enableControllerInNamesrv"`
	ControllerPeers           string `koanf:"controllerPeers"`
	ControllerSelfID          string `koanf:"controllerSelfId"`
	BrokerHeartbeatTimeoutMs  int    `koanf:"brokerHeartbeatTimeoutMs"`

	// NodeID is the Kafka broker id (node.id); -1 keeps the persisted one
	// (a random id in 1..9999 chosen at first start).
	NodeID int `koanf:"nodeId"`
	// AutoCreateTopicsEnable lets Kafka Metadata requests create missing
	// topics (auto.create.topics.enable); NumPartitions is their partition
	// count and CreateTopics' default (num.partitions).
	AutoCreateTopicsEnable bool `koanf:"autoCreateTopicsEnable"`
	NumPartitions          int  `koanf:"numPartitions"`
	// GroupInitialRebalanceDelayMs is group.initial.rebalance.delay.ms:
	// how long the first rebalance of an empty Kafka consumer group waits
	// for more members (0: none).
	GroupInitialRebalanceDelayMs int `koanf:"groupInitialRebalanceDelayMs"`
	// TransactionMaxTimeoutMs is transaction.max.timeout.ms: the longest
	// transaction timeout a Kafka producer may ask for; a transaction open
	// longer than its own timeout is aborted by the broker.
	TransactionMaxTimeoutMs int `koanf:"transactionMaxTimeoutMs"`

	// LogLevel is debug, info, warn or error.
	LogLevel string `koanf:"logLevel"`
	// levelVar, set by action, holds the logger's level at run time:
	// Kafka's IncrementalAlterConfigs of the root broker logger changes it.
	levelVar *slog.LevelVar
	// LogFormat is text (logfmt-like, slog's TextHandler) or json.
	LogFormat string `koanf:"logFormat"`
	// EnablePprof serves net/http/pprof under /debug/pprof/ on the HTTP
	// port (off by default: profiles cost CPU and show internals).
	EnablePprof bool `koanf:"enablePprof"`
	// ConsoleEnable serves the web console (/console/, /api/) on the
	// HTTP port (on by default: the HTTP port is an admin port; bind it
	// to a private address). ConsoleReadOnly refuses its changes.
	ConsoleEnable   bool `koanf:"consoleEnable"`
	ConsoleReadOnly bool `koanf:"consoleReadOnly"`

	// Storage, as storage.Config.
	FlushDiskType   string `koanf:"flushDiskType"`
	FlushIntervalMs int    `koanf:"flushIntervalMs"`
	SegmentSize     int64  `koanf:"segmentSize"`
	RetentionHours  int    `koanf:"retentionHours"`
	RetentionBytes  int64  `koanf:"retentionBytes"`

	// DiskReserveBytes: appends are refused (retriable errors) while less
	// is free on the data directory's file system, and resume when there
	// is room again (docs/limits.md); -1 turns the guard off.
	DiskReserveBytes int64 `koanf:"diskReserveBytes"`
	// ResidentSegments bounds the sealed CommitLog segments whose pages
	// stay in the broker's resident memory (storage.Config); -1: all.
	ResidentSegments int `koanf:"residentSegments"`

	// Resource limits over both protocols (docs/limits.md; Kafka's names).
	// queuedMaxRequestBytes bounds request bytes held in memory (read,
	// queued or being served); queuedMaxDecompressBytes the decompression
	// output of produced batches in flight. maxConnections and
	// maxConnectionsPerIp bound open connections over all listeners (0:
	// no bound). requestReadTimeoutMs closes a connection whose request
	// was started and not completed in time.
	QueuedMaxRequestBytes    int64 `koanf:"queuedMaxRequestBytes"`
	QueuedMaxDecompressBytes int64 `koanf:"queuedMaxDecompressBytes"`
	MaxConnections           int   `koanf:"maxConnections"`
	MaxConnectionsPerIP      int   `koanf:"maxConnectionsPerIp"`
	RequestReadTimeoutMs     int   `koanf:"requestReadTimeoutMs"`

	// Authorization (docs/security.md; authz.go). authorizerEnable checks
	// Kafka requests against the ACLs (Kafka's authorizer.class.name),
	// superUsers ("User:admin;User:ops") may do anything,
	// allowEveryoneIfNoAclFound opens resources no ACL names. aclEnable
	// is RocketMQ's: AccessKey signatures and the same ACLs.
	AuthorizerEnable          bool   `koanf:"authorizerEnable"`
	AllowEveryoneIfNoACLFound bool   `koanf:"allowEveryoneIfNoAclFound"`
	SuperUsers                string `koanf:"superUsers"`
	ACLEnable                 bool   `koanf:"aclEnable"`
	// authz and accounts, set by serveBroker, are the ACL store both
	// adapters check and RocketMQ's AccessKey accounts.
	authz    *auth.Authorizer
	accounts *auth.Accounts

	// Delay, timer, retry and DLQ (RocketMQ's names; delay.go).
	MessageDelayLevel string `koanf:"messageDelayLevel"`
	TimerWheelEnable  bool   `koanf:"timerWheelEnable"`
	TimerMaxDelaySec  int64  `koanf:"timerMaxDelaySec"`
	TimerPrecisionMs  int64  `koanf:"timerPrecisionMs"`

	// RocketMQ transactions (BrokerConfig's names, milliseconds;
	// transactions.go).
	TransactionTimeOut       int64 `koanf:"transactionTimeOut"`
	TransactionCheckInterval int64 `koanf:"transactionCheckInterval"`
	TransactionCheckMax      int   `koanf:"transactionCheckMax"`
}

// defaultConfig returns the settings used when nothing else is given; each
// works on a fresh machine.
func defaultConfig() Config {
	return Config{
		DataDir:                       "./data",
		KafkaAddr:                     ":9092",
		RemotingAddr:                  ":10911",
		HAAddr:                        ":10912",
		HTTPAddr:                      ":8080",
		ConsoleEnable:                 true,
		NamesrvListen:                 ":9876",
		NamesrvAddr:                   "127.0.0.1:9876",
		BrokerClusterName:             "DefaultCluster",
		BrokerName:                    "broker-a",
		BrokerRole:                    roleAsyncMaster,
		MinInSyncReplicas:             1,
		AccessMessageInMemoryMaxRatio: 40,
		BrokerHeartbeatTimeoutMs:      int(controller.DefaultBrokerHeartbeatTimeout / time.Millisecond),
		NodeID:                        -1,
		AutoCreateTopicsEnable:        true,
		NumPartitions:                 1,
		GroupInitialRebalanceDelayMs:  3000,
		LogLevel:                      "info",
		LogFormat:                     "text",
		FlushDiskType:                 string(storage.AsyncFlush),
		FlushIntervalMs:               500,
		SegmentSize:                   1 << 30,
		RetentionHours:                72,
		RetentionBytes:                -1,
		MessageDelayLevel:             delay.DefaultLevels,
		TimerWheelEnable:              true,
		TimerMaxDelaySec:              int64(delay.DefaultTimerMaxDelay / time.Second),
		TimerPrecisionMs:              1,
		TransactionTimeOut:            halfmsg.DefaultTimeout.Milliseconds(),
		TransactionCheckInterval:      halfmsg.DefaultInterval.Milliseconds(),
		TransactionCheckMax:           halfmsg.DefaultMaxChecks,
		DiskReserveBytes:              storage.DefaultDiskReserveBytes,
		ResidentSegments:              2,
		QueuedMaxRequestBytes:         256 << 20,
		QueuedMaxDecompressBytes:      128 << 20,
		RequestReadTimeoutMs:          int(netio.DefaultReadTimeout / time.Millisecond),
		TransactionMaxTimeoutMs:       900000,
		TLSClientAuth:                 "none",
		TLSMode:                       tlsDisabled,
		SASLEnabledMechanisms:         strings.Join(kafkaapi.DefaultSASLMechanisms, ","),
	}
}

// loadConfig merges, each overriding the one before: defaults, the YAML file
// at path (if path is not empty), the TWINMQ_* variables in environ, and the
// flags of fs the user set. A key that no source knows is an error, so a
// typo does not silently fall back to a default.
func loadConfig(path string, fs *pflag.FlagSet, environ []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(structs.Provider(defaultConfig(), "koanf"), nil); err != nil {
		return Config{}, fmt.Errorf("config: defaults: %w", err)
	}
	known := k.Keys()

	if path != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
		if err := checkKeys(fk.Keys(), known); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
		if err := k.Merge(fk); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", path, err)
		}
	}

	env, err := envMap(withoutClientEnv(environ), known)
	if err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}
	if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
		return Config{}, fmt.Errorf("config: environment: %w", err)
	}

	if fs != nil {
		// Only flags the user set; an unset flag's default must not hide
		// the file or the environment.
		p := posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
			key := knownKey(camelKey(f.Name, '-'))
			if !f.Changed || !slices.Contains(known, key) {
				return "", nil
			}
			return key, posflag.FlagVal(fs, f)
		})
		if err := k.Load(p, nil); err != nil {
			return Config{}, fmt.Errorf("config: flags: %w", err)
		}
	}

	var cfg Config
	if err := k.Unmarshal("", &cfg); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// envMap maps TWINMQ_FLUSH_DISK_TYPE=x in environ to {"flushDiskType": "x"}.
// A TWINMQ_* variable that names no key in known is an error.
func envMap(environ, known []string) (map[string]any, error) {
	m := make(map[string]any)
	var errs []error
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, envPrefix) {
			continue
		}
		key := knownKey(camelKey(strings.ToLower(strings.TrimPrefix(name, envPrefix)), '_'))
		if !slices.Contains(known, key) {
			errs = append(errs, fmt.Errorf("unknown variable %s", name))
			continue
		}
		m[key] = val
	}
	return m, errors.Join(errs...)
}

// keyAliases maps the camel case of a flag or variable name to the key
// where RocketMQ spells the key otherwise (--transaction-timeout is
// transactionTimeOut).
var keyAliases = map[string]string{"transactionTimeout": "transactionTimeOut"}

// knownKey returns key, or the key it is an alias of.
func knownKey(key string) string {
	if k, ok := keyAliases[key]; ok {
		return k
	}
	return key
}

// camelKey turns "flush-disk-type" (sep '-') or "flush_disk_type" (sep '_')
// into "flushDiskType".
func camelKey(s string, sep rune) string {
	var b strings.Builder
	upper := false
	for _, r := range s {
		switch {
		case r == sep:
			upper = true
		case upper:
			b.WriteRune(unicode.ToUpper(r))
			upper = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func checkKeys(keys, known []string) error {
	var errs []error
	for _, k := range keys {
		if !slices.Contains(known, k) {
			errs = append(errs, fmt.Errorf("unknown key %q", k))
		}
	}
	return errors.Join(errs...)
}

// validate checks every setting and normalizes flushDiskType to upper case.
func (c *Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir is empty"))
	}
	for _, a := range []struct{ key, addr string }{
		{"kafkaAddr", c.KafkaAddr},
		{"remotingAddr", c.RemotingAddr},
		{"haAddr", c.HAAddr},
		{"httpAddr", c.HTTPAddr},
		{"namesrvListen", c.NamesrvListen},
		{"grpcAddr", c.GRPCAddr},
	} {
		if a.key == "grpcAddr" && a.addr == "" {
			continue // derived from remotingAddr
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", a.key, a.addr, err))
		}
	}
	errs = append(errs, c.validateGroup()...)
	if _, err := c.superUsers(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateController()...)
	if c.NodeID < -1 {
		errs = append(errs, fmt.Errorf("nodeId %d: must be -1 (persisted) or >= 0", c.NodeID))
	}
	if c.NumPartitions < 1 || c.NumPartitions > 1<<14 {
		errs = append(errs, fmt.Errorf("numPartitions %d: must be in 1..16384", c.NumPartitions))
	}
	if c.TransactionMaxTimeoutMs <= 0 {
		errs = append(errs, fmt.Errorf("transactionMaxTimeoutMs %d is not positive", c.TransactionMaxTimeoutMs))
	}
	if c.GroupInitialRebalanceDelayMs < 0 {
		errs = append(errs, fmt.Errorf("groupInitialRebalanceDelayMs %d is negative", c.GroupInitialRebalanceDelayMs))
	}
	if _, err := c.namesrvAddrs(); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.slogLevel(); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat = strings.ToLower(c.LogFormat); c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("logFormat %q: want text or json", c.LogFormat))
	}
	c.FlushDiskType = strings.ToUpper(c.FlushDiskType)
	switch storage.FlushDiskType(c.FlushDiskType) {
	case storage.AsyncFlush, storage.SyncFlush:
	default:
		errs = append(errs, fmt.Errorf("flushDiskType %q is neither %s nor %s",
			c.FlushDiskType, storage.AsyncFlush, storage.SyncFlush))
	}
	if c.FlushIntervalMs <= 0 {
		errs = append(errs, fmt.Errorf("flushIntervalMs %d is not positive", c.FlushIntervalMs))
	}
	if c.SegmentSize < 4096 {
		errs = append(errs, fmt.Errorf("segmentSize %d is below 4096 bytes", c.SegmentSize))
	}
	// storage.Config reads 0 as "the default"; here 0 would read as "keep
	// nothing", so ask for an explicit -1 instead of guessing.
	if c.RetentionHours == 0 {
		errs = append(errs, errors.New("retentionHours is 0; use a positive number of hours or -1 to keep forever"))
	}
	if c.RetentionBytes == 0 || c.RetentionBytes < -1 {
		errs = append(errs, fmt.Errorf("retentionBytes %d: use a positive size or -1 for no limit", c.RetentionBytes))
	}
	if _, err := c.delayPolicy(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateTransactions()...)
	errs = append(errs, c.validateLimits()...)
	errs = append(errs, c.validateSecurity()...)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Broker roles (RocketMQ's BrokerRole).
const (
	roleAsyncMaster = "ASYNC_MASTER"
	roleSyncMaster  = "SYNC_MASTER"
	roleSlave       = "SLAVE"
)

// validateGroup checks the broker group settings and normalizes
// brokerRole to upper case.
func (c *Config) validateGroup() []error {
	var errs []error
	if c.BrokerClusterName == "" || c.BrokerName == "" {
		errs = append(errs, errors.New("brokerClusterName and brokerName must not be empty"))
	}
	c.BrokerRole = strings.ToUpper(c.BrokerRole)
	if c.EnableControllerMode {
		if strings.Trim(c.ControllerAddr, "; ") == "" {
			errs = append(errs, errors.New("enableControllerMode needs controllerAddr (the name servers that embed the controller)"))
		}
		return errs // the controller assigns brokerId and brokerRole
	}
	switch c.BrokerRole {
	case roleAsyncMaster, roleSyncMaster:
		if c.BrokerID != 0 {
			errs = append(errs, fmt.Errorf("brokerId %d with brokerRole %s: a master's brokerId is 0", c.BrokerID, c.BrokerRole))
		}
	case roleSlave:
		if c.BrokerID < 1 {
			errs = append(errs, fmt.Errorf("brokerId %d with brokerRole SLAVE: a slave's brokerId is 1 or more", c.BrokerID))
		}
	default:
		errs = append(errs, fmt.Errorf("brokerRole %q is not ASYNC_MASTER, SYNC_MASTER or SLAVE", c.BrokerRole))
	}
	if c.AccessMessageInMemoryMaxRatio < 0 || c.AccessMessageInMemoryMaxRatio > 100 {
		errs = append(errs, fmt.Errorf("accessMessageInMemoryMaxRatio %d: must be 0-100", c.AccessMessageInMemoryMaxRatio))
	}
	if c.InSyncReplicas < 0 {
		errs = append(errs, fmt.Errorf("inSyncReplicas %d: must be 0 (every in-sync slave) or more", c.InSyncReplicas))
	}
	if c.MinInSyncReplicas < 1 {
		errs = append(errs, fmt.Errorf("minInSyncReplicas %d: must be 1 or more", c.MinInSyncReplicas))
	}
	if c.HAMasterAddress != "" {
		if _, _, err := net.SplitHostPort(c.HAMasterAddress); err != nil {
			errs = append(errs, fmt.Errorf("haMasterAddress %q: %w", c.HAMasterAddress, err))
		}
	}
	return errs
}

// namesrvAddrs splits NamesrvAddr ("host:port;host:port").
func (c *Config) namesrvAddrs() ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(c.NamesrvAddr, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("namesrvAddr %q: %w", a, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("namesrvAddr %q lists no name server", c.NamesrvAddr)
	}
	return addrs, nil
}

func (c *Config) slogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("logLevel %q: want debug, info, warn or error", c.LogLevel)
	}
	return l, nil
}

// storeDir is where the store keeps its files.
func (c *Config) storeDir() string {
	return filepath.Join(c.DataDir, "store")
}

// storageConfig maps the settings onto storage.Config.
func (c *Config) storageConfig(logger *slog.Logger) storage.Config {
	return storage.Config{
		Dir:            c.storeDir(),
		Logger:         logger,
		FlushDiskType:  storage.FlushDiskType(c.FlushDiskType),
		FlushInterval:  time.Duration(c.FlushIntervalMs) * time.Millisecond,
		SegmentSize:    c.SegmentSize,
		RetentionHours: c.RetentionHours,
		RetentionBytes: c.RetentionBytes,
		// 0 would mean storage's default: the key's default is that
		// already, so 0 here can only mean "no reserve".
		DiskReserveBytes: cmp.Or(c.DiskReserveBytes, -1),
		ResidentSegments: c.ResidentSegments, // -1 or >= 1 (validated)
	}
}

// validateLimits checks the resource limits.
func (c *Config) validateLimits() []error {
	var errs []error
	if c.ResidentSegments < -1 || c.ResidentSegments == 0 {
		errs = append(errs, fmt.Errorf("residentSegments %d: use a count of segments (at least 1), or -1 for all", c.ResidentSegments))
	}
	if c.DiskReserveBytes < -1 {
		errs = append(errs, fmt.Errorf("diskReserveBytes %d: use a size, 0 or -1 for no reserve", c.DiskReserveBytes))
	}
	if c.QueuedMaxRequestBytes < 0 || c.QueuedMaxDecompressBytes < 0 {
		errs = append(errs, fmt.Errorf("queuedMaxRequestBytes %d, queuedMaxDecompressBytes %d: use a size, or 0 for no bound",
			c.QueuedMaxRequestBytes, c.QueuedMaxDecompressBytes))
	}
	if c.MaxConnections < 0 || c.MaxConnectionsPerIP < 0 {
		errs = append(errs, fmt.Errorf("maxConnections %d, maxConnectionsPerIp %d: use a count, or 0 for no bound",
			c.MaxConnections, c.MaxConnectionsPerIP))
	}
	if c.RequestReadTimeoutMs < 0 {
		errs = append(errs, fmt.Errorf("requestReadTimeoutMs %d: use a duration, or 0 for none", c.RequestReadTimeoutMs))
	}
	return errs
}

// netLimits are the bounds the broker's listeners share.
func (c *Config) netLimits() *netio.Limits {
	return &netio.Limits{
		Budget:        netio.NewBudget(c.QueuedMaxRequestBytes),
		MaxConns:      c.MaxConnections,
		MaxConnsPerIP: c.MaxConnectionsPerIP,
	}
}

// readTimeout is requestReadTimeoutMs as netio.Config.ReadTimeout reads
// it (0 there means the default, so none is negative).
func (c *Config) readTimeout() time.Duration {
	if c.RequestReadTimeoutMs == 0 {
		return -1
	}
	return time.Duration(c.RequestReadTimeoutMs) * time.Millisecond
}

// validateController checks the embedded controller's settings when it is
// on.
func (c *Config) validateController() []error {
	if c.BrokerHeartbeatTimeoutMs <= 0 {
		return []error{fmt.Errorf("brokerHeartbeatTimeoutMs %d is not positive", c.BrokerHeartbeatTimeoutMs)}
	}
	if !c.EnableControllerInNamesrv {
		return nil
	}
	peers, err := controller.ParsePeers(c.ControllerPeers)
	if err != nil {
		return []error{fmt.Errorf("controllerPeers: %w", err)}
	}
	for _, p := range peers {
		if p.ID == c.ControllerSelfID {
			return nil
		}
	}
	return []error{fmt.Errorf("controllerSelfId %q is not in controllerPeers %q", c.ControllerSelfID, c.ControllerPeers)}
}

// namesrvDir holds the name server's KV config (kvConfig.json, as Java's
// ~/namesrv/kvConfig.json).
func (c *Config) namesrvDir() string {
	return filepath.Join(c.DataDir, "namesrv")
}

// controllerDir holds the embedded controller's raft state.
func (c *Config) controllerDir() string {
	return filepath.Join(c.DataDir, "controller")
}
