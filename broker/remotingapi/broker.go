package remotingapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/stats"
	"github.com/twinmq/twinmq/broker/subgroups"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Defaults of Config (BrokerConfig.java, docs/rocketmq-protocol.md §2).
const (
	DefaultBrokerName       = "broker-a"
	DefaultClusterName      = "DefaultCluster"
	DefaultBrokerRole       = "ASYNC_MASTER"
	DefaultTopicQueues      = 4
	DefaultMaxMessageSize   = 4 << 20
	DefaultRegisterInterval = 30 * time.Second
	DefaultClientTTL        = 120 * time.Second
	DefaultLockTTL          = 60 * time.Second
	DefaultMaxSuspend       = 25 * time.Second // under the Go client's 30 s pull timeout
	autoCreateTopicKey      = "TBW102"         // TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC
	autoCreateTopicQueues   = 8
	maxPullMessages         = 32
	maxPullBytes            = 4 << 20
)

// Config configures a Broker. The zero value of every field but
// AdvertisedAddr has a working default, filled by validate.
type Config struct {
	BrokerName  string
	ClusterName string
	// BrokerID is the broker's id in its group: 0 for the master, >= 1 for
	// a slave (RocketMQ's brokerId).
	BrokerID int64
	// HAAddr is the ip:port slaves reach this broker's HA listener at,
	// registered as haServerAddr ("" registers AdvertisedAddr's host with
	// the HA port 10912).
	HAAddr string
	// OnMaster, if set, is called after each registration a name server
	// accepted with the group master's remoting and HA addresses, as the
	// name server answers a slave's registration ("" while the group has
	// no master).
	OnMaster func(masterAddr, masterHAAddr string)
	// BrokerRole is RocketMQ's brokerRole (ASYNC_MASTER, SYNC_MASTER,
	// SLAVE), as GET_BROKER_CONFIG and GET_BROKER_RUNTIME_INFO report it;
	// "" is ASYNC_MASTER, a broker without slaves.
	BrokerRole string
	// RuntimeInfo, if set, adds to (and may override) the table
	// GET_BROKER_RUNTIME_INFO answers: what the adapter cannot know
	// itself, such as the replication state (runtime_info.go).
	RuntimeInfo func() map[string]string
	// MasterEpoch, in controller mode, is the controller's masterEpoch
	// this broker is master of (0: none); a master registers with it, so
	// that the name servers let it replace the master it succeeded.
	MasterEpoch func() int32
	// KafkaEndpoint, if set, is the broker's Kafka listener (advertised
	// host:port, node id, cluster id; ok false while it has none), which
	// the broker registers with so that every broker of the cluster can
	// list it in Kafka Metadata (package broker/cluster): a master's leads
	// its group's partitions, a slave's serves follower fetches.
	KafkaEndpoint func() (addr string, nodeID int32, clusterID string, ok bool)
	// KafkaRack is brokerRack (Kafka's broker.rack), registered with the
	// Kafka listener: a master sends a consumer of the same rack to fetch
	// from this broker when it is a slave (KIP-392).
	KafkaRack string
	// KafkaReplicas, if set, are the group's members and in-sync ones as
	// Kafka node ids, which a master registers with its Kafka listener.
	KafkaReplicas func() (replicas, isr []int32)
	// SlaveReadEnable (RocketMQ's slaveReadEnable) lets a master send
	// consumers that have fallen SlowPullBytes behind its written end to
	// read from its slave (suggestWhichBrokerId 1 in the pull response).
	SlaveReadEnable bool
	SlowPullBytes   int64
	// Logs is the log service sends go through (a SYNC_MASTER's waits
	// for its slaves); nil: log.New(store).
	Logs *log.Log
	// Txns is the Kafka adapter's transaction index (broker/log.Txns),
	// shared: pulls of Kafka-written queues stop at the last stable
	// offset and skip aborted transactions' records (xproto_pull_txn.go).
	// nil: pulls read to the visible end.
	Txns *log.Txns
	// AdvertisedAddr is the ip:port clients reach the remoting listener at;
	// it is the STOREHOST of every stored message and the address in
	// offsetMsgIds, so it must be an IP address.
	AdvertisedAddr string
	// NamesrvAddrs are the name servers to register with (none: no
	// registration).
	NamesrvAddrs []string
	// NamesrvTLS, if set, is the TLS configuration of this broker's
	// connections to the name servers and to other brokers (their tlsMode
	// enforcing); nil: plaintext.
	NamesrvTLS *tls.Config
	// RegistrationSecret, if set, signs every REGISTER_BROKER and
	// UNREGISTER_BROKER (nameserver.SignRegistration); the name servers
	// must be configured with the same secret.
	RegistrationSecret string
	// DisableAutoCreateTopic refuses sends to unknown topics
	// (autoCreateTopicEnable=false) and stops advertising TBW102.
	DisableAutoCreateTopic bool
	// DefaultTopicQueues is the queue count of auto-created topics.
	DefaultTopicQueues int32
	MaxMessageSize     int
	RegisterInterval   time.Duration
	ClientTTL          time.Duration
	LockTTL            time.Duration
	MaxSuspend         time.Duration
	Logger             *slog.Logger
	Now                func() time.Time
	// Accounts, if set, turns RocketMQ's ACL on (aclEnable, acl.go): every
	// request must be signed by one of them, and what it names is checked
	// with Authorizer (which must then be set too).
	Accounts   *auth.Accounts
	Authorizer *auth.Authorizer
}

func (c *Config) validate() (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(c.AdvertisedAddr)
	if err != nil {
		return ap, fmt.Errorf("remotingapi: advertised address %q must be ip:port: %w", c.AdvertisedAddr, err)
	}
	setDefault(&c.BrokerName, DefaultBrokerName)
	setDefault(&c.ClusterName, DefaultClusterName)
	setDefault(&c.BrokerRole, DefaultBrokerRole)
	setDefault(&c.DefaultTopicQueues, DefaultTopicQueues)
	setDefault(&c.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&c.RegisterInterval, DefaultRegisterInterval)
	setDefault(&c.ClientTTL, DefaultClientTTL)
	setDefault(&c.LockTTL, DefaultLockTTL)
	setDefault(&c.MaxSuspend, DefaultMaxSuspend)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Accounts != nil && c.Authorizer == nil {
		return ap, errors.New("remotingapi: Accounts (the ACL) needs an Authorizer")
	}
	return ap, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// handlerFunc answers one request. It returns the response, or nil when it
// answers later itself (a parked long poll).
type handlerFunc func(ctx context.Context, c *netio.Conn, req *remoting.Command) *remoting.Command

// Broker is the RocketMQ adapter; it implements netio.Handler.
type Broker struct {
	// sqls caches the compiled SQL92 subscriptions of pulls (pull_sql.go).
	sqls      sqlCache
	cfg       Config
	log       *slog.Logger
	store     *storage.Store
	topics    *topics.Registry
	offsets   *offsets.Table
	storeHost netip.AddrPort
	booted    time.Time // when New ran (GET_BROKER_RUNTIME_INFO bootTimestamp)
	uniq      *remoting.UniqIDGenerator
	clients   *clientTable
	locks     *lockTable
	pending   *pendingTable
	codes     map[int32]*route // read-only map after New
	// unsupported counts requests of codes not in codes (Requests).
	unsupported atomic.Int64
	// latency resolves a request's Observer; nil until SetLatency.
	latency atomic.Pointer[func(code, responseCode int32) Observer]
	// meter counts messages in and out per topic; nil until SetTopicMeter.
	meter    atomic.Pointer[TopicMeter]
	e2e      atomic.Pointer[Observer] // store-to-pull latency; nil until SetEndToEnd
	retries  atomic.Pointer[RetryMeter]
	subs     atomic.Pointer[subgroups.Table] // nil until SetSubscriptionGroups (subgroups.go)
	stats    atomic.Pointer[stats.Table]     // nil until SetStats (admin_brokerstats.go)
	updater  atomic.Pointer[ConfigUpdater]   // nil until SetConfigUpdater (admin_config.go)
	opaque   atomic.Int32
	reg      *registrar
	delay    atomic.Pointer[delayHook] // nil until EnableDelay (sendback.go)
	pcache   *pullCache                // converted rest of Kafka batches (xproto_pullcache.go)
	logs     *log.Log                  // appends and their acknowledgement
	brokerID atomic.Int64              // cfg.BrokerID until SetBrokerID
	holds    *log.Holds                // parked long polls (pull.go)

	// txn holds the half messages; nil until EnableTransactions
	// (end_transaction.go).
	txn atomic.Pointer[halfmsg.Service]

	ctx      context.Context // ends at Close; parents every request
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
	unwatch  func()
}

// New returns a Broker serving store through the topic registry and the
// offset table; Start begins registration and client expiry.
func New(cfg Config, store *storage.Store, reg *topics.Registry, offs *offsets.Table) (*Broker, error) {
	host, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Broker{
		cfg: cfg, log: cfg.Logger.With("component", "remoting", "broker", cfg.BrokerName),
		store: store, topics: reg, offsets: offs, storeHost: host, booted: cfg.Now(),
		uniq:    remoting.NewUniqIDGenerator(host.Addr(), os.Getpid(), 0, cfg.Now),
		pcache:  log.NewCache[[]cachedMsg](log.CacheConfig{}),
		clients: newClientTable(), locks: newLockTable(), pending: newPendingTable(),
		ctx: ctx, cancel: cancel,
	}
	// Woken long polls are answered by GOMAXPROCS workers (see
	// log.HoldsConfig.Workers for why not a goroutine each).
	b.brokerID.Store(cfg.BrokerID)
	b.logs = cfg.Logs
	if b.logs == nil {
		b.logs = log.New(store)
	}
	b.holds = log.NewHolds(store, log.HoldsConfig{Workers: runtime.GOMAXPROCS(0)})
	b.codes = make(map[int32]*route)
	for code, fn := range b.handlers() {
		b.codes[code] = &route{serve: fn}
	}
	for code, fn := range b.adminHandlers() { // admin_stats.go
		b.codes[code] = &route{serve: fn}
	}
	b.reg = newRegistrar(b)
	return b, nil
}

// route is the handler of a request code and the count of its requests.
type route struct {
	serve  handlerFunc
	served atomic.Int64
	// latency holds the Observer of each response code met (int32 ->
	// Observer), resolved once: response codes are the broker's own, a
	// handful per request code.
	latency sync.Map
	// failed counts the answers with a failing response code (int32 ->
	// *atomic.Int64), for Failures.
	failed sync.Map
}

// failedResponse reports whether an answer with code counts as a failed
// request: anything but SUCCESS and the two answers a pull gives in the
// ordinary course (PULL_NOT_FOUND: nothing new; PULL_RETRY_IMMEDIATELY:
// the filter skipped what there was).
func failedResponse(code int32) bool {
	return code != remoting.Success && code != remoting.PullNotFound && code != remoting.PullRetryImmediately
}

// Failures calls fn, by request code and then response code, with the
// number of requests answered with each failing response code (see
// failedResponse); oneway requests are not counted.
func (b *Broker) Failures(fn func(code, responseCode int32, n int64)) {
	for _, code := range slices.Sorted(maps.Keys(b.codes)) {
		r := b.codes[code]
		var resps []int32
		r.failed.Range(func(k, _ any) bool {
			resps = append(resps, k.(int32))
			return true
		})
		slices.Sort(resps)
		for _, rc := range resps {
			n, _ := r.failed.Load(rc)
			fn(code, rc, n.(*atomic.Int64).Load())
		}
	}
}

// Observer receives a request's latency in seconds; a Prometheus
// histogram's child (prometheus.Observer) is one.
type Observer interface{ Observe(seconds float64) }

// SetLatency makes the broker report, for each request of a code it
// serves, the time from its frame reaching the broker to its response
// encoded, to the Observer resolve returns for the request code and the
// response's code. resolve is called once per pair. A pull parked for a
// long poll is measured when answered, its wait included; oneway requests
// are not measured.
func (b *Broker) SetLatency(resolve func(code, responseCode int32) Observer) {
	b.latency.Store(&resolve)
}

// TopicMeter counts the messages and bytes that producers append to a
// topic (In) and that consumers are sent (Out), for metrics.
type TopicMeter interface {
	In(topic string, messages, bytes int)
	Out(topic string, messages, bytes int)
}

// SetTopicMeter makes the broker count sent and pulled messages per topic
// on m.
func (b *Broker) SetTopicMeter(m TopicMeter) { b.meter.Store(&m) }

// SetEndToEnd makes the broker report, for each stored entry a pull
// returns (a RocketMQ message, or a Kafka batch whose records it
// converted), the time from its store timestamp to the pull answering,
// to o.
func (b *Broker) SetEndToEnd(o Observer) { b.e2e.Store(&o) }

// SetHoldTime makes the broker report how long each pull suspended for a
// long poll (suspendTimeoutMillis) waited, to the Observer resolve
// returns for why it was answered ("woken": a message came, "timeout",
// "cut": its connection closed or the broker stops).
func (b *Broker) SetHoldTime(resolve func(reason string) Observer) {
	b.holds.SetObserver(func(r log.Reason) log.Observer { return resolve(r.String()) })
}

// observeStored reports the store-to-pull latency of entries.
func (b *Broker) observeStored(entries []log.Entry) {
	o := b.e2e.Load()
	if o == nil || len(entries) == 0 {
		return
	}
	now := time.Now().UnixMilli()
	for i := range entries {
		(*o).Observe(float64(max(now-entries[i].StoreTime, 0)) / 1e3)
	}
}

// RetryMeter counts, per consumer group and the topic a message was
// first consumed from, the messages sent back for a retry and those sent
// to the group's dead-letter topic, for metrics.
type RetryMeter interface {
	Retried(group, topic string)
	DeadLettered(group, topic string)
}

// SetRetryMeter makes the broker count CONSUMER_SEND_MSG_BACK's retries
// and dead letters on m.
func (b *Broker) SetRetryMeter(m RetryMeter) { b.retries.Store(&m) }

// countIn counts messages a send appended.
func (b *Broker) countIn(topic string, messages, bytes int) {
	if m := b.meter.Load(); m != nil {
		(*m).In(topic, messages, bytes)
	}
}

// observe reports the latency of a request of code, served by r, answered
// with responseCode.
func (b *Broker) observe(code int32, r *route, responseCode int32, start time.Time) {
	if r == nil {
		return
	}
	if failedResponse(responseCode) {
		n, ok := r.failed.Load(responseCode)
		if !ok {
			n, _ = r.failed.LoadOrStore(responseCode, new(atomic.Int64))
		}
		n.(*atomic.Int64).Add(1)
	}
	resolve := b.latency.Load()
	if resolve == nil {
		return
	}
	o, ok := r.latency.Load(responseCode)
	if !ok {
		o, _ = r.latency.LoadOrStore(responseCode, (*resolve)(code, responseCode))
	}
	o.(Observer).Observe(time.Since(start).Seconds())
}

// handlers is the dispatch table by request code.
func (b *Broker) handlers() map[int32]handlerFunc {
	return map[int32]handlerFunc{
		remoting.SendMessage:                   b.sendMessage,
		remoting.SendMessageV2:                 b.sendMessage,
		remoting.SendBatchMessage:              b.sendBatchMessage,
		remoting.PullMessage:                   b.pullMessage,
		remoting.HeartBeat:                     b.heartBeat,
		remoting.UnregisterClient:              b.unregisterClient,
		remoting.GetConsumerListByGroup:        b.getConsumerList,
		remoting.QueryConsumerOffset:           b.queryConsumerOffset,
		remoting.UpdateConsumerOffset:          b.updateConsumerOffset,
		remoting.SearchOffsetByTimestamp:       b.searchOffsetByTimestamp,
		remoting.GetMaxOffset:                  b.getMaxOffset,
		remoting.GetMinOffset:                  b.getMinOffset,
		remoting.GetEarliestMsgStoretime:       b.getEarliestMsgStoretime,
		remoting.LockBatchMQ:                   b.lockBatchMQ,
		remoting.UnlockBatchMQ:                 b.unlockBatchMQ,
		remoting.UpdateAndCreateTopic:          b.updateAndCreateTopic,
		remoting.DeleteTopicInBroker:           b.deleteTopicInBroker,
		getAllTopicConfig:                      b.getAllTopicConfig,
		remoting.GetBrokerConfig:               b.getBrokerConfig,
		remoting.GetBrokerRuntimeInfo:          b.getBrokerRuntimeInfo, // runtime_info.go
		remoting.GetAllSubscriptionGroupConfig: b.getAllSubscriptionGroupConfig,
		remoting.QueryMessage:                  b.queryMessage,
		remoting.ViewMessageByID:               b.viewMessageByID,
		remoting.ConsumerSendMsgBack:           b.consumerSendMsgBack,      // sendback.go
		ResendDLQ:                              b.resendDLQ,                // delay_resend.go
		remoting.EndTransaction:                b.endTransaction,           // end_transaction.go
		updateAndCreateACLConfig:               b.updateAndCreateACLConfig, // acl_admin.go
		deleteACLConfig:                        b.deleteACLConfig,
		updateGlobalWhiteAddrsConfig:           b.updateGlobalWhiteAddrs,
	}
}

// Start registers with the name servers (now, every RegisterInterval and
// after every topic change), expires silent clients and answers woken long
// polls, until Close.
func (b *Broker) Start() {
	b.unwatch = b.topics.Watch(func(t topics.Config, deleted bool) {
		if deleted {
			b.pcache.Forget(t.Name)
		}
		b.reg.kick()
	})
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.reg.run(b.ctx) }()
	go func() { defer b.wg.Done(); b.expireLoop(b.ctx) }()
}

// Close stops registration (unregistering from the name servers) and
// expiry, and answers the parked long polls (writes to connections closed
// by then fail harmlessly).
func (b *Broker) Close(ctx context.Context) {
	b.stopOnce.Do(func() {
		if b.unwatch != nil {
			b.unwatch()
		}
		b.cancel()
		b.wg.Wait()
		b.holds.Close()
		b.pcache.Close()
		b.reg.unregister(ctx)
	})
}

// StoreHost is the advertised address written into stored messages.
func (b *Broker) StoreHost() netip.AddrPort { return b.storeHost }

// OnOpen implements netio.Handler.
func (b *Broker) OnOpen(*netio.Conn) {}

// OnClose implements netio.Handler: the connection's clients leave their
// groups (the only departure signal from Go clients, docs/rocketmq-protocol.md §2.6).
func (b *Broker) OnClose(c *netio.Conn, _ error) {
	b.holds.Cut(c) // its parked pulls: nobody reads their answers
	b.pending.closeConn(c.ID())
	changed := b.clients.removeConn(c)
	if len(changed) > 0 {
		go b.notifyGroups(changed) // OnClose must not block
	}
}

// OnFrame implements netio.Handler.
func (b *Broker) OnFrame(c *netio.Conn, frame []byte, done func()) {
	defer done()
	route := func(code int32) remoting.Handler {
		r := b.codes[code]
		if r == nil {
			b.unsupported.Add(1)
			return nil
		}
		r.served.Add(1)
		return func(req *remoting.Command) *remoting.Command {
			start := time.Now()
			if denied := b.checkACL(c, code, req); denied != nil {
				b.observe(code, r, denied.Code, start)
				return denied
			}
			resp := r.serve(b.ctx, c, req)
			if resp != nil { // nil: oneway, or a pull that answers itself (pull.go)
				b.observe(code, r, resp.Code, start)
			}
			return resp
		}
	}
	// Answers to GET_CONSUMER_RUNNING_INFO and CONSUME_MESSAGE_DIRECTLY go
	// to their caller; stray ones are dropped.
	answered := func(resp *remoting.Command) { b.pending.complete(c.ID(), resp) }
	if err := remoting.ServeFrame(c, frame, route, answered); err != nil {
		b.log.Debug("undecodable frame; closing", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// Requests calls fn with -1 and the requests of codes the broker does not
// serve, then, in code order, with each code it serves and the requests
// of it received since New (for metrics).
func (b *Broker) Requests(fn func(code int32, n int64)) {
	fn(-1, b.unsupported.Load())
	for _, code := range slices.Sorted(maps.Keys(b.codes)) {
		fn(code, b.codes[code].served.Load())
	}
}

// reply writes resp unless req asked for no reply (docs/rocketmq-protocol.md §1.6: only the
// oneway bit, never the request code, decides).
func (b *Broker) reply(c *netio.Conn, req, resp *remoting.Command) {
	_ = remoting.Reply(c, req, resp)
}

// expireLoop drops clients and locks that went silent.
func (b *Broker) expireLoop(ctx context.Context) {
	tick := time.NewTicker(min(b.cfg.ClientTTL/4, 10*time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if changed := b.clients.expire(b.cfg.Now(), b.cfg.ClientTTL); len(changed) > 0 {
				b.notifyGroups(changed)
			}
		}
	}
}

// Reregister registers with the name servers now (after the Kafka
// listener started or moved).
func (b *Broker) Reregister() { b.reg.kick() }

// SetBrokerID changes the id the broker registers with (a slave promoted
// to master registers as 0, RocketMQ 5's controller mode) and registers
// at once.
func (b *Broker) SetBrokerID(id int64) {
	if b.brokerID.Swap(id) != id {
		b.reg.kick()
	}
}
