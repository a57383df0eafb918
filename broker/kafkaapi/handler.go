// Package kafkaapi is the Kafka adapter: it implements netio.Handler,
// decodes requests with kmsg (through wire/kafka), serves them from the
// store and the topic registry, and encodes the responses. One file per
// API key, named by the key's number as franz-go's kfake does.
//
// Model (docs/design.md section 4): a Kafka topic is a twinmq topic, a
// partition is a queue, the offset is the ConsumeQueue logical offset. A
// produced batch is stored verbatim (Kind Kafka) with its baseOffset and
// partitionLeaderEpoch written at append; a fetch serves the stored bytes.
// This broker leads every partition with a constant leader epoch 0
// (so OffsetForLeaderEpoch(0) answers the log end, which clients that
// validate their position after a leader change rely on).
//
// Consumer-group keys are served with Config.Groups, transaction keys
// with Config.Transactions; a request with a key we do not serve closes
// the connection, as Kafka does.
package kafkaapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/groups"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/quota"
	"github.com/twinmq/twinmq/broker/sharegroup"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/kafka"
)

// Config configures a Handler. Zero values have working defaults.
type Config struct {
	NodeID    int32
	ClusterID string
	// AdvertisedHost and AdvertisedPort are what Metadata tells clients;
	// SetAdvertised changes them once the listener's port is known.
	AdvertisedHost string
	AdvertisedPort int32
	// DisableAutoCreate turns off topic auto-creation by Metadata (on by
	// default, as Kafka's auto.create.topics.enable).
	DisableAutoCreate bool
	// DefaultPartitions is num.partitions for auto-created topics and
	// CreateTopics with -1 (default 1, as Kafka).
	DefaultPartitions int32
	// ProducerScanRecords bounds how far back a partition's log is read to
	// rebuild idempotent producer state after a restart (default 100,000).
	ProducerScanRecords int64
	Logger              *slog.Logger
	Now                 func() time.Time

	// Groups is the consumer-group coordinator; the group keys (8-16, 42,
	// 47) are served only when it is set.
	Groups *groups.Coordinator
	// Transactions is the transaction coordinator (opened, not started:
	// New starts it with this handler's marker writer); the transaction
	// keys (24-28, 61, 65, 66) and InitProducerId with a transactional id
	// are served only when it is set. The caller closes it after the
	// listener stops.
	Transactions *txn.Coordinator
	// Txns is the transaction index (last stable offsets, aborted
	// transactions), to share with the RocketMQ adapter, whose pulls read
	// as read_committed; nil: the Handler keeps its own. Build it with
	// LoadTxnBatch.
	Txns *log.Txns
	// Sizes counts partition bytes for DescribeLogDirs, shared with
	// topics.Retention; nil: the Handler keeps its own.
	Sizes *topics.Sizes
	// XProtoCacheBytes bounds the cache of Kafka batches converted from
	// RocketMQ-produced messages (xproto_fetchcache.go): 0 is 64 MiB, a
	// negative value turns the cache off.
	XProtoCacheBytes int64
	// GroupSize, if set, is the number of members of this broker's group
	// (master and slaves): the replication factor of every topic, which
	// CreateTopics accepts up to (nil: 1).
	GroupSize func() int
	// Logs is the log service appends go through (a SYNC_MASTER's
	// waits for its slaves); nil: log.New(store).
	Logs *log.Log
	// DecompressBudget, if set, bounds the decompression output of
	// produced batches in flight across the broker (Kafka has no such
	// bound; a 33 KB zstd batch can expand to the 64 MiB limit). See
	// 00_produce_decompress.go.
	DecompressBudget *netio.Budget
	// XProtoReadAhead, when negative, turns off the read-ahead of
	// RocketMQ-produced messages into that cache (xproto_fetchahead.go);
	// 0 leaves it on.
	XProtoReadAhead int
	// Cluster, if set, is the latest view of the cluster's broker groups
	// (broker/cluster.Poller.View): with other groups in it, a topic's
	// partitions are numbered across groups and this broker leads only its
	// own group's (cluster.go). Nil: this broker's queues are the
	// partitions.
	Cluster func() *cluster.View
	// Peers forwards to other groups' masters what belongs to them
	// (topic creation and deletion, consumer offsets of their queues);
	// needed with Cluster.
	Peers Peers
	// Replicas, if set, are this broker group's members and its in-sync
	// ones as Kafka node ids, this broker first: every local partition's
	// replicas and ISR in Metadata. Nil: this broker alone.
	Replicas func() (replicas, isr []int32)
	// LeaderEpoch, if set, is the group's master epoch (controller mode):
	// the leader epoch of this broker's partitions, which grows with every
	// failover. Nil: 0, the one epoch a group without a controller has.
	LeaderEpoch func() int32
	// Epochs, if set, lists the group's master epochs with the CommitLog
	// offset each began at (the HA epoch file), oldest first: where
	// OffsetForLeaderEpoch finds an epoch's end.
	Epochs func() []EpochStart
	// LogLevel, if set, is Logger's level: the broker's root logger
	// (KIP-412, loggers.go), which IncrementalAlterConfigs then changes
	// at run time. Nil: the broker loggers are read-only.
	LogLevel *slog.LevelVar
	// startLevel is LogLevel's level at New, which a DELETE restores.
	startLevel slog.Level
	// MinInSyncReplicas is the broker group's minInSyncReplicas, which
	// DescribeConfigs reports as min.insync.replicas (0: 1, Kafka's
	// default).
	MinInSyncReplicas int
	// TopicsRegistered, if set, returns once the broker has registered its
	// topics with the name servers again (remotingapi.AwaitRegistered):
	// CreateTopics waits for it, bounded, so that a RocketMQ client finds
	// a topic Kafka created as soon as the answer arrives.
	TopicsRegistered func(ctx context.Context)
	// Follower, if set, makes this handler a slave's Kafka listener
	// (follower.go): it serves Fetch of its group's partitions and
	// forwards every other request to the master's Kafka listener at the
	// address Follower returns ("" while the group has no master).
	Follower func() string
	// Rack is brokerRack (Kafka's broker.rack), shown in Metadata; a
	// master sends consumers of another rack to an in-sync follower of
	// theirs (follower.go).
	Rack string
	// Authorizer, if set, checks every request against the ACLs
	// (authz.go; Kafka's authorizer.class.name). Nil: no checks.
	Authorizer *auth.Authorizer
	// Quotas, if set, serves DescribeClientQuotas and AlterClientQuotas
	// from it and throttles Produce and Fetch (quotas.go). Nil: the two
	// keys answer as a broker without quotas.
	Quotas *quota.Store
	// ClusterRefresh, if set, reads the cluster view again now
	// (cluster.Poller.Refresh): after this broker created or deleted a
	// topic on other groups, it waits for the view to show them.
	ClusterRefresh func(ctx context.Context) error

	// Users are the SCRAM credentials SASL checks (PLAIN and SCRAM) and
	// Describe/AlterUserScramCredentials serve; nil: none, and those keys
	// answer as a broker without SCRAM.
	Users *auth.Users
	// SASLMechanisms are sasl.enabled.mechanisms (default
	// DefaultSASLMechanisms); SaslHandshake offers these.
	SASLMechanisms []string
	// ReauthMs is connections.max.reauth.ms (KIP-368): the session
	// lifetime SaslAuthenticate announces; 0: sessions do not expire.
	ReauthMs int64
	// Pop is the POP engine (broker/pop), shared with the RocketMQ 5 gRPC
	// adapter; the share-group keys (76-79, 90-92) and GROUP configs are
	// served only when it and Groups are set (share.go).
	Pop *pop.Engine
	// ShareGroups is the share-group membership (nil with Pop: New makes
	// one).
	ShareGroups *sharegroup.Coordinator
}

func (c *Config) validate() error {
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 1
	}
	if c.DefaultPartitions < 0 || c.DefaultPartitions > topics.MaxQueues {
		return fmt.Errorf("kafkaapi: default partitions %d out of range", c.DefaultPartitions)
	}
	if c.AdvertisedHost == "" {
		c.AdvertisedHost = "127.0.0.1"
	}
	if c.ProducerScanRecords <= 0 {
		c.ProducerScanRecords = 100_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LogLevel != nil {
		c.startLevel = c.LogLevel.Level()
	}
	if c.SASLMechanisms == nil {
		c.SASLMechanisms = DefaultSASLMechanisms
	}
	for _, m := range c.SASLMechanisms {
		if !slices.Contains(KnownSASLMechanisms, m) {
			return fmt.Errorf("kafkaapi: unknown SASL mechanism %q (known: %s)", m, strings.Join(KnownSASLMechanisms, ", "))
		}
	}
	if c.ReauthMs < 0 {
		return fmt.Errorf("kafkaapi: negative connections.max.reauth.ms %d", c.ReauthMs)
	}
	return nil
}

// Handler serves Kafka requests. It is a netio.Handler.
type Handler struct {
	cfg       Config
	store     *storage.Store
	reg       *topics.Registry
	sizes     *topics.Sizes
	times     *timeIndexes
	log       *slog.Logger
	producers *log.Producers
	// clusterIDs caches the topic ids of the latest cluster view (cluster.go).
	clusterIDs atomic.Pointer[topicIDs]
	advert     atomic.Pointer[advertised]
	apis       map[int16]api                       // read-only after New
	served     []atomic.Int64                      // requests served, by API key (Requests)
	latency    atomic.Pointer[[]Observer]          // by API key; nil until SetLatency
	meter      atomic.Pointer[TopicMeter]          // nil until SetTopicMeter
	e2e        atomic.Pointer[Observer]            // store-to-fetch latency; nil until SetEndToEnd
	failed     *failures                           // error codes answered (failures.go)
	updater    atomic.Pointer[BrokerConfigUpdater] // dynamic broker settings; nil until SetBrokerConfigUpdater
	inlined    atomic.Int64                        // Produce requests answered on the event loop
	delay      atomic.Pointer[delayHook]           // nil until EnableDelay (00_produce_delay.go)
	xcache     *xcache                             // nil: off (xproto_fetchcache.go)
	xconvert   converter                           // convertBatch; tests replace it
	aheads     readAheads                          // xproto_fetchahead.go
	logs       *log.Log                            // appends, acknowledgement, visibility
	holds      *log.Holds                          // parked fetches (01_fetch.go)
	txns       *log.Txns                           // LSO and aborted transactions (txn.go)
	share      *shareState                         // nil without Config.Pop (share.go)

	lmu        sync.Mutex  // guards listeners
	listeners  []*Listener // those with an advertised address (listener.go)
	markerGens sync.Map    // log.PartKey -> *atomic.Uint64: markers written (00_produce_txn.go)
}

type advertised struct {
	host string
	port int32
}

// New returns a Handler over a store and a topic registry.
func New(cfg Config, store *storage.Store, reg *topics.Registry) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, store: store, reg: reg, log: cfg.Logger, apis: apiTable(), sizes: cfg.Sizes,
		logs: cfg.Logs, holds: log.NewHolds(store, log.HoldsConfig{})}
	if h.logs == nil {
		h.logs = log.New(store)
	}
	if h.sizes == nil {
		h.sizes = topics.NewSizes(store, reg)
	}
	h.times = newTimeIndexes()
	reg.Watch(func(c topics.Config, deleted bool) {
		if deleted {
			h.times.forget(c.ID)
			h.txns.Forget(c.ID)
		}
	})
	h.producers = log.NewProducers(store, cfg.Now, cfg.ProducerScanRecords, loadProducerBatch)
	h.txns = cfg.Txns
	if h.txns == nil {
		h.txns = log.NewTxns(store, cfg.ProducerScanRecords, LoadTxnBatch)
	}
	h.xcache, h.xconvert = newXCache(cmp.Or(cfg.XProtoCacheBytes, log.DefaultCacheBytes), reg), convertBatch
	if cfg.Groups != nil {
		h.registerGroups()
	}
	if cfg.Transactions != nil {
		h.startTransactions()
	}
	if cfg.Follower != nil {
		h.followerAPIs() // follower.go
	}
	if cfg.Pop != nil && cfg.Groups != nil {
		h.registerShare() // FindCoordinator comes with Groups
	}
	h.advert.Store(&advertised{cfg.AdvertisedHost, cfg.AdvertisedPort})
	h.served = make([]atomic.Int64, slices.Max(slices.Collect(maps.Keys(h.apis)))+1)
	h.failed = newFailures(slices.Collect(maps.Keys(h.apis)))
	return h, nil
}

// Requests calls fn, in key order, with each API key the handler serves
// and the requests of it served since New (for metrics).
func (h *Handler) Requests(fn func(key int16, n int64)) {
	for _, k := range slices.Sorted(maps.Keys(h.apis)) {
		fn(k, h.served[k].Load())
	}
}

// Observer receives a request's latency in seconds; a Prometheus
// histogram's child (prometheus.Observer) is one.
type Observer interface{ Observe(seconds float64) }

// SetLatency makes the handler report, for each request it serves, the
// time from its frame reaching the handler to its response written (or
// handed to netio), to the Observer that resolve returned for its API
// key. resolve is called once per served key, here: a request pays a
// clock read and an Observe, no lookup by label.
func (h *Handler) SetLatency(resolve func(key int16) Observer) {
	obs := make([]Observer, len(h.served))
	for k := range h.apis {
		obs[k] = resolve(k)
	}
	h.latency.Store(&obs)
}

// TopicMeter counts the messages and bytes that producers append to a
// topic (In) and that consumers are sent (Out), for metrics.
type TopicMeter interface {
	In(topic string, messages, bytes int)
	Out(topic string, messages, bytes int)
}

// RequestMeter is what a TopicMeter may also count: each partition of a
// Produce or Fetch request per topic, and whether it failed (Kafka's
// BrokerTopicMetrics Total/FailedProduceRequestsPerSec and
// Total/FailedFetchRequestsPerSec).
type RequestMeter interface {
	Request(topic string, fetch, failed bool)
}

// countRequest counts a partition of a Produce or Fetch of topic (an
// unknown topic is not counted: it has no per-topic series).
func (h *Handler) countRequest(topic string, fetch bool, code int16) {
	if topic == "" {
		return
	}
	if m := h.meter.Load(); m != nil {
		if rm, ok := (*m).(RequestMeter); ok {
			rm.Request(topic, fetch, code != errNone)
		}
	}
}

// SetTopicMeter makes the handler count produced and fetched records per
// topic on m (and, if m is a RequestMeter, the requests).
func (h *Handler) SetTopicMeter(m TopicMeter) { h.meter.Store(&m) }

// countIn counts a partition's appended batch of n records.
func (h *Handler) countIn(topic string, code int16, n int32, bytes int) {
	if m := h.meter.Load(); m != nil && code == errNone {
		(*m).In(topic, int(n), bytes)
	}
}

// topicBytes is what a fetch sends of one partition.
type topicBytes struct {
	topic    string
	messages int // records from the fetch offset to the end of the last batch
	bytes    int
}

// countOut counts what a fetch sends: the records from each partition's
// fetch offset to the end of its last batch (a batch that began before
// the fetch offset is sent whole; the client drops the records before it)
// and the bytes (Kafka's BytesOut, batches as sent). It observes the
// store-to-fetch latency of each entry read from the log, whose store
// times (ms) are stored (batches served from the cross-protocol cache
// carry none and are not observed).
func (h *Handler) countOut(sent []topicBytes, stored []int64) {
	if m := h.meter.Load(); m != nil {
		for _, s := range sent {
			(*m).Out(s.topic, s.messages, s.bytes)
		}
	}
	if o := h.e2e.Load(); o != nil && len(stored) > 0 {
		now := time.Now().UnixMilli()
		for _, ms := range stored {
			(*o).Observe(float64(max(now-ms, 0)) / 1e3)
		}
	}
}

// SetEndToEnd makes the handler report, for each stored entry (a record
// batch) a fetch returns, the time from its store timestamp to the fetch
// answering, to o.
func (h *Handler) SetEndToEnd(o Observer) { h.e2e.Store(&o) }

// SetHoldTime makes the handler report how long each fetch parked for
// MaxWaitMs waited, to the Observer resolve returns for why it was
// answered ("woken": data came, "timeout", "cut": its connection closed or
// the listener drains).
func (h *Handler) SetHoldTime(resolve func(reason string) Observer) {
	h.holds.SetObserver(func(r log.Reason) log.Observer { return resolve(r.String()) })
}

// observe reports a request of key that started at start.
func (h *Handler) observe(key int16, start time.Time) {
	if obs := h.latency.Load(); obs != nil && key >= 0 && int(key) < len(*obs) && (*obs)[key] != nil {
		(*obs)[key].Observe(time.Since(start).Seconds())
	}
}

// SetAdvertised sets the host and port Metadata advertises.
func (h *Handler) SetAdvertised(host string, port int32) {
	h.advert.Store(&advertised{host, port})
}

func (h *Handler) advertisedAddr() (string, int32) {
	a := h.advert.Load()
	return a.host, a.port
}

// OnOpen implements netio.Handler.
func (h *Handler) OnOpen(c *netio.Conn) {
	c.SetValue(&connState{principal: auth.Anonymous})
}

// OnClose implements netio.Handler. A connection the broker closes (a bad
// frame, a backlog, a handler panic, an idle timeout) is logged at info
// with the reason, so a client's "killing connection" can be matched to
// it; the client's own orderly close (nil, EOF) and shutdown are debug.
func (h *Handler) OnClose(c *netio.Conn, err error) {
	h.holds.Cut(c)
	closeUpstream(c)
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, netio.ErrServerClosed) {
		h.log.Debug("kafkaapi: connection closed", "conn", c.ID(), "remote", c.RemoteAddr(), "err", err)
		return
	}
	h.log.Info("kafkaapi: connection closed", "conn", c.ID(), "remote", c.RemoteAddr(), "principal", principalOf(c), "err", err)
}

// request is one request in flight: it replies once and then calls done.
type request struct {
	h       *Handler
	conn    *netio.Conn
	hdr     kafka.RequestHeader
	done    func()
	start   time.Time // the frame reached OnFrame (latency)
	replied atomic.Bool
	// sink, when set, takes the response instead of conn (nil): an
	// in-process request (inprocess.go).
	sink  chan<- kmsg.Response
	patch func(kmsg.Response) // authorization results to add (authz.go)
	// throttle delays done (quotas.go); fetchBytes is what a marker
	// response carries (-1: count its batches).
	throttle   time.Duration
	fetchBytes int
}

// end reports the request's latency and releases its connection for the
// next request.
func (r *request) end() {
	r.h.observe(r.hdr.APIKey, r.start)
	r.done()
}

// reply encodes resp, writes it and finishes the request.
func (r *request) reply(resp kmsg.Response) {
	if !r.replied.CompareAndSwap(false, true) {
		return
	}
	defer r.release()
	r.applyPatch(resp)
	if r.sink != nil {
		r.h.observe(r.hdr.APIKey, r.start)
		r.sink <- resp
		return
	}
	buf := kafka.AppendResponse(nil, r.hdr.CorrelationID, resp)
	// Observed before the write: a client that has its answer finds it
	// counted.
	r.h.observe(r.hdr.APIKey, r.start)
	r.h.failed.count(r.hdr.APIKey, resp)
	if err := r.conn.Write(buf); err != nil && !errors.Is(err, netio.ErrClosed) {
		r.h.log.Debug("kafkaapi: write", "conn", r.conn.ID(), "err", err)
	}
}

// finish ends a request that gets no reply (acks=0 produce).
func (r *request) finish() {
	if r.replied.CompareAndSwap(false, true) {
		r.end()
	}
}

// closeConn closes the connection for a request Kafka would not answer.
func (r *request) closeConn(reason string, err error) {
	if r.sink != nil {
		r.h.log.Info("kafkaapi: in-process request refused", "api", kmsg.NameForKey(r.hdr.APIKey), "reason", reason, "err", err)
		if r.replied.CompareAndSwap(false, true) {
			r.sink <- nil
			r.end()
		}
		return
	}
	r.h.log.Info("kafkaapi: closing connection", "conn", r.conn.ID(), "remote", r.conn.RemoteAddr(),
		"api", kmsg.NameForKey(r.hdr.APIKey), "key", r.hdr.APIKey, "version", r.hdr.APIVersion, "reason", reason, "err", err)
	_ = r.conn.Close()
	r.finish()
}

// OnFrame implements netio.Handler: parse, dispatch by key, reply.
func (h *Handler) OnFrame(c *netio.Conn, frame []byte, done func()) {
	st := stateOf(c)
	if st != nil && st.rawTokens.Load() {
		h.saslRawToken(st, c, frame, done)
		return
	}
	hdr, req, err := kafka.ParseRequest(frame)
	r := &request{h: h, conn: c, hdr: hdr, done: done, start: time.Now(), fetchBytes: -1}
	if err != nil {
		h.badRequest(r, err)
		return
	}
	if st != nil && st.listener != nil && st.listener.proto.SASL() && !st.saslGate(hdr.APIKey, h.cfg.Now()) {
		r.closeConn("request before SASL authentication or after the session expired", nil)
		return
	}
	// A follower authenticates its clients itself (the SASL keys stay
	// here) and forwards what it does not serve to its master.
	if h.following() && hdr.APIKey != fetchKey && hdr.APIKey != saslHandshakeKey && hdr.APIKey != saslAuthenticateKey &&
		h.forward(r, frame, req) { // follower.go
		return
	}
	api, ok := h.apis[hdr.APIKey]
	if !ok || hdr.APIVersion > api.max {
		if hdr.APIKey == apiVersionsKey {
			r.reply(kafka.ApiVersionsUnsupported(0, h.apis[apiVersionsKey].max))
			return
		}
		r.closeConn("key or version not served", nil)
		return
	}
	h.served[hdr.APIKey].Add(1)
	defer func() {
		// A handler bug must not take the broker down with it; the
		// connection is closed so the client retries elsewhere.
		if p := recover(); p != nil {
			h.log.Error("kafkaapi: handler panic", "api", kmsg.NameForKey(hdr.APIKey), "version", hdr.APIVersion, "panic", p)
			r.closeConn("internal error", fmt.Errorf("panic: %v", p))
		}
	}()
	if !h.authorize(r, req) {
		return
	}
	h.quotaHook(r, req)
	api.serve(h, r, req)
}

// badRequest answers what the header parser rejected: ApiVersions at an
// unknown version gets KIP-511's v0 answer; anything else closes, as Kafka
// does for requests it cannot parse.
func (h *Handler) badRequest(r *request, err error) {
	var uv *kafka.UnsupportedVersionError
	if errors.As(err, &uv) && uv.Key == apiVersionsKey {
		r.reply(kafka.ApiVersionsUnsupported(0, h.apis[apiVersionsKey].max))
		return
	}
	r.closeConn("bad request", err)
}

// requestContext bounds a request's waits (produce acks, admin appends).
func requestContext(timeoutMs int32) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutMs) * time.Millisecond
	if d <= 0 || d > 5*time.Minute {
		d = 30 * time.Second
	}
	return context.WithTimeout(context.Background(), d)
}

// queueRange returns a partition's [logStartOffset, highWatermark) as the
// log service lets readers see it; a topic that has no entry yet has
// neither queue nor data: (0, 0).
// (Bounds, not Range: a wrapped "not found" error per empty partition per
// fetch was 7% of the CPU with 1,000 partitions, issue 19.) The error is
// always nil; it stays for the callers' sake.
func (h *Handler) queueRange(topic string, part int32) (int64, int64, error) {
	min, max, _ := h.logs.Bounds(topic, part)
	return min, max, nil
}

// lookupTopic finds a topic by id when the request version carries ids
// (Produce v13, Fetch v13+), else by name. A zero id falls back to the
// name, leniently: hand-built requests often fill only the name.
func (h *Handler) lookupTopic(name string, id [16]byte, byID bool) (topics.Config, int16) {
	if byID && (id != [16]byte{} || name == "") {
		if c, ok := h.reg.GetByID(id); ok {
			return c, errNone
		}
		v := h.view()
		if v == nil {
			return topics.Config{}, errUnknownTopicID
		}
		if name, ok := h.topicByClusterID(v, id); ok {
			if c, code := h.lookupTopic(name, id, false); code == errNone {
				return c, errNone
			}
		}
		return topics.Config{}, errUnknownTopicID
	}
	if c, ok := h.reg.Get(name); ok {
		return c, errNone
	}
	// Another broker group's topic: its partitions answer
	// NOT_LEADER_OR_FOLLOWER here (localQueue).
	if c, ok := h.remoteTopic(name); ok {
		return c, errNone
	}
	return topics.Config{}, errUnknownTopicOrPartition
}

// strp returns a pointer to a copy of s.
func strp(s string) *string { return &s }

// MaxRequestSize is Kafka's socket.request.max.bytes: 100 MiB, checked by
// the framer before a byte of the body is allocated (docs/design.md section 5).
const MaxRequestSize = 100 << 20

// ServerConfig is the netio configuration of a Kafka listener: 4-byte
// length framing up to MaxRequestSize, one request in flight per
// connection so replies leave in request order.
func ServerConfig(addr string, logger *slog.Logger) netio.Config {
	return netio.Config{
		Addr:     addr,
		Framer:   netio.LengthPrefixed{Max: MaxRequestSize},
		Ordering: netio.Serial,
		Logger:   logger,
	}
}
