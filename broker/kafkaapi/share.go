package kafkaapi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/sharegroup"
	"github.com/twinmq/twinmq/broker/topics"
)

// Kafka share groups (KIP-932) over the POP engine (docs/share-groups.md).
// A share group named g consumes partition p of topic t through the POP
// state of (g, t, p), the state a RocketMQ 5 SimpleConsumer group named g
// uses for queue p: one set of locks, one delivery count per record,
// whichever protocol receives it.

// KIP-932 error codes (org.apache.kafka.common.protocol.Errors).
const (
	errInvalidRecordState       int16 = 121
	errShareSessionNotFound     int16 = 122
	errInvalidShareSessionEpoch int16 = 123
	errShareSessionLimitReached int16 = 133
)

// Group configs of a share group (Kafka's GROUP config resource), with
// Kafka's defaults and bounds.
const (
	cfgLockDuration  = "share.record.lock.duration.ms"
	cfgDeliveryLimit = "share.delivery.count.limit"
	cfgAutoReset     = "share.auto.offset.reset"
	cfgIsolation     = "share.isolation.level"
	cfgSessionMs     = "share.session.timeout.ms"
	cfgHeartbeatMs   = "share.heartbeat.interval.ms"
)

type groupConfigDef struct {
	def      string
	min, max int64 // integer configs; both 0 for strings
	values   []string
}

var shareConfigDefs = map[string]groupConfigDef{
	cfgLockDuration:  {def: "30000", min: 1000, max: 3_600_000},
	cfgDeliveryLimit: {def: "5", min: 2, max: 10},
	cfgAutoReset:     {def: "latest", values: []string{"latest", "earliest"}},
	cfgIsolation:     {def: "read_uncommitted", values: []string{"read_uncommitted"}},
	cfgSessionMs:     {def: "45000", min: 45000, max: 60000},
	cfgHeartbeatMs:   {def: "5000", min: 5000, max: 15000},
}

func checkGroupConfig(name string, value *string) error {
	d, ok := shareConfigDefs[name]
	if !ok {
		return fmt.Errorf("unknown or unsupported group config %q", name)
	}
	if value == nil {
		return fmt.Errorf("group config %q needs a value", name)
	}
	if d.values != nil {
		if !slices.Contains(d.values, *value) {
			return fmt.Errorf("group config %s: %q not one of %v", name, *value, d.values)
		}
		return nil
	}
	n, err := strconv.ParseInt(*value, 10, 64)
	if err != nil || n < d.min || n > d.max {
		return fmt.Errorf("group config %s: %q not in [%d, %d]", name, *value, d.min, d.max)
	}
	return nil
}

// shareSettings are the configs a share fetch works with.
type shareSettings struct {
	lock     time.Duration
	limit    int32
	earliest bool
	align    bool // acquire whole batches (ShareAcquireMode 0)
}

func (h *Handler) shareSettings(group string) shareSettings {
	cfg := h.cfg.Pop.GroupConfig(group)
	get := func(name string) string {
		if v, ok := cfg[name]; ok {
			return v
		}
		return shareConfigDefs[name].def
	}
	lock, _ := strconv.ParseInt(get(cfgLockDuration), 10, 64)
	limit, _ := strconv.ParseInt(get(cfgDeliveryLimit), 10, 32)
	return shareSettings{lock: time.Duration(lock) * time.Millisecond, limit: int32(limit), earliest: get(cfgAutoReset) == "earliest"}
}

// describeGroupConfigs lists a group's configs for DescribeConfigs.
func (h *Handler) describeGroupConfigs(group string) []describedConfig {
	set := h.cfg.Pop.GroupConfig(group)
	out := make([]describedConfig, 0, len(shareConfigDefs))
	for _, name := range slices.Sorted(maps.Keys(shareConfigDefs)) {
		d := shareConfigDefs[name]
		v, ok := set[name]
		if !ok {
			v = d.def
		}
		typ := kmsg.ConfigTypeInt
		if d.values != nil {
			typ = kmsg.ConfigTypeString
		}
		out = append(out, describedConfig{name: name, value: v, isDefault: !ok, typ: typ})
	}
	return out
}

// alterGroupConfigs applies IncrementalAlterConfigs ops to a group.
func (h *Handler) alterGroupConfigs(ctx context.Context, group string, ops []kmsg.IncrementalAlterConfigsRequestResourceConfig, validate bool) (int16, *string) {
	if group == "" {
		return errInvalidRequest, strp("empty group name")
	}
	cfg := h.cfg.Pop.GroupConfig(group)
	for _, op := range ops {
		switch op.Op {
		case kmsg.IncrementalAlterConfigOpSet:
			if err := checkGroupConfig(op.Name, op.Value); err != nil {
				return errInvalidConfig, strp(err.Error())
			}
			cfg[op.Name] = *op.Value
		case kmsg.IncrementalAlterConfigOpDelete:
			if _, ok := shareConfigDefs[op.Name]; !ok {
				return errInvalidConfig, strp(fmt.Sprintf("unknown or unsupported group config %q", op.Name))
			}
			delete(cfg, op.Name)
		default:
			return errInvalidRequest, strp("group configs take SET and DELETE only")
		}
	}
	if validate {
		return errNone, nil
	}
	if err := h.cfg.Pop.SetGroupConfig(ctx, group, cfg); err != nil {
		return codeOf(err), strp(err.Error())
	}
	return errNone, nil
}

// shareTopic resolves a topic a share group may consume: a topic of this
// broker, not internal.
func (h *Handler) shareTopic(name string) (topics.Config, bool) {
	c, ok := h.reg.Get(name)
	if !ok || c.Internal {
		return topics.Config{}, false
	}
	return c, true
}

func (h *Handler) shareTopicByID(id [16]byte) (topics.Config, bool) {
	c, ok := h.reg.GetByID(id)
	if !ok || c.Internal {
		return topics.Config{}, false
	}
	return c, true
}

func (h *Handler) sharePartitions(topic string) (int32, bool) {
	c, ok := h.shareTopic(topic)
	return c.Queues, ok
}

// shareMember names a member of a share group.
type shareMember struct{ group, member string }

// shareSession is a member's share session on this broker (KIP-932): the
// partitions it fetches and the epoch its next request must carry.
type shareSession struct {
	parts map[sharePart]bool
	next  int32
}

// sharePart is one partition in a session.
type sharePart struct {
	topic string
	id    [16]byte
	part  int32
}

// shareState is the adapter's share-group state: sessions and, per
// member, the locks it holds (offset to lock serial), which are what it
// may acknowledge. mu guards both maps and everything in them; it is
// never held across an engine call.
type shareState struct {
	mu       sync.Mutex
	sessions map[shareMember]*shareSession
	held     map[shareMember]map[pop.Key]map[int64]uint32
	rotate   atomic.Uint32 // where the next fetch starts among its partitions
	// settled is closed (and replaced) when records are settled: a
	// parked share fetch may find records made free (released, or room
	// under the in-flight bound). Guarded by mu.
	settled chan struct{}
	// ctx ends when the listener drains: parked share fetches answer.
	ctx   context.Context
	drain context.CancelFunc
}

func newShareState() *shareState {
	ctx, cancel := context.WithCancel(context.Background())
	return &shareState{sessions: map[shareMember]*shareSession{}, held: map[shareMember]map[pop.Key]map[int64]uint32{},
		ctx: ctx, drain: cancel, settled: make(chan struct{})}
}

// settledCh returns the channel the next settlement closes.
func (s *shareState) settledCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settled
}

// kick wakes the share fetches parked on settledCh.
func (s *shareState) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.settled)
	s.settled = make(chan struct{})
}

func (s *shareState) draining() bool { return s.ctx.Err() != nil }

// maxShareSessions bounds the share sessions of a broker (Kafka's
// group.share.max.share.sessions is 2000).
const maxShareSessions = 2000

// step applies a request's session epoch (KIP-932 "Share session"):
// 0 opens a session (replacing one the member had) with the partitions
// added, and carries no acknowledgements; -1 closes the member's session;
// any other epoch must be the session's next one, and adds and forgets
// partitions. It returns the session's partitions to fetch (none at -1).
func (s *shareState) step(m shareMember, epoch int32, adds, forgets []sharePart, acks bool) ([]sharePart, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[m]
	switch {
	case epoch == 0:
		if acks {
			return nil, errInvalidRequest
		}
		if ss == nil && len(s.sessions) >= maxShareSessions {
			return nil, errShareSessionLimitReached
		}
		ss = &shareSession{parts: map[sharePart]bool{}}
		s.sessions[m] = ss
	case ss == nil:
		return nil, errShareSessionNotFound
	case epoch == -1:
		delete(s.sessions, m)
		return nil, errNone
	case epoch != ss.next:
		return nil, errInvalidShareSessionEpoch
	}
	ss.next = epoch + 1
	if epoch == math.MaxInt32 {
		ss.next = 1
	}
	for _, p := range adds {
		ss.parts[p] = true
	}
	for _, f := range forgets {
		for p := range ss.parts {
			if p.id == f.id && p.part == f.part {
				delete(ss.parts, p)
			}
		}
	}
	out := slices.Collect(maps.Keys(ss.parts))
	slices.SortFunc(out, func(a, b sharePart) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.part - b.part)
	})
	return out, errNone
}

// ackStep is ShareAcknowledge's session step: like step, but 0 is not
// allowed (an acknowledgement never opens a session) and no partition
// joins the session.
func (s *shareState) ackStep(m shareMember, epoch int32) int16 {
	if epoch == 0 {
		return errInvalidShareSessionEpoch
	}
	_, code := s.step(m, epoch, nil, nil, true)
	return code
}

// shareAckBatch is one AcknowledgementBatch of ShareFetch or
// ShareAcknowledge.
type shareAckBatch struct {
	first, last int64
	types       []int8
}

// KIP-932 acknowledge types (KIP-1222 adds renew).
const (
	ackGap     = 0
	ackAccept  = 1
	ackRelease = 2
	ackReject  = 3
	ackRenew   = 4
)

// shareSettle applies a partition's acknowledgements as one POP step:
// every offset must be one this member holds under a live lock, or
// nothing is applied and the answer is INVALID_RECORD_STATE. A gap (an
// offset with no record) is accepted.
func (h *Handler) shareSettle(ctx context.Context, m shareMember, c topics.Config, part int32, batches []shareAckBatch, renew bool, st shareSettings) int16 {
	a, code := h.shareAckOps(m, c, part, batches, renew, st)
	if code != errNone {
		return code
	}
	return h.settled(m, c, a, h.cfg.Pop.Settle(ctx, a.key, a.ops))
}

// shareAck is a partition's checked acknowledgements: the POP step's
// settlements, and the offsets the member stops holding with them.
type shareAck struct {
	key  pop.Key
	ops  []pop.Op
	done []int64
}

// settled finishes a settlement step: its error as a Kafka code, and on
// success the member's settled locks forgotten and parked fetches woken.
func (h *Handler) settled(m shareMember, c topics.Config, a shareAck, err error) int16 {
	if err != nil {
		if errors.Is(err, pop.ErrNotHeld) || errors.Is(err, pop.ErrLockExpired) || errors.Is(err, pop.ErrDuplicateOp) {
			return errInvalidRecordState
		}
		h.log.Warn("kafkaapi: share acknowledgement", "group", m.group, "topic", c.Name, "partition", a.key.Queue, "err", err)
		return codeOf(err)
	}
	h.share.drop(m, a.key, a.done)
	h.share.kick()
	return errNone
}

// shareAckOps checks a partition's acknowledgement batches and turns them
// into POP settlements with the member's lock serials.
func (h *Handler) shareAckOps(m shareMember, c topics.Config, part int32, batches []shareAckBatch, renew bool, st shareSettings) (shareAck, int16) {
	if part < 0 || part >= c.Queues {
		return shareAck{}, errUnknownTopicOrPartition
	}
	k := pop.Key{Group: m.group, Topic: c.Name, Queue: part}
	var ops []pop.Op
	var done []int64
	for _, b := range batches {
		n := b.last - b.first + 1
		if b.first < 0 || n <= 0 || n > int64(h.cfg.Pop.MaxInFlight()) || (len(b.types) != 1 && int64(len(b.types)) != n) {
			return shareAck{}, errInvalidRequest
		}
		for i := int64(0); i < n; i++ {
			typ := b.types[0]
			if len(b.types) > 1 {
				typ = b.types[i]
			}
			op := pop.Op{Offset: b.first + i}
			switch typ {
			case ackGap, ackAccept:
				op.Kind = pop.OpAccept
			case ackRelease:
				op.Kind = pop.OpRelease
			case ackReject:
				op.Kind = pop.OpReject
			case ackRenew:
				if !renew {
					return shareAck{}, errInvalidRequest
				}
				op.Kind, op.Invisible = pop.OpRenew, st.lock.Milliseconds()
			default:
				return shareAck{}, errInvalidRequest
			}
			if len(ops) >= h.cfg.Pop.MaxInFlight() {
				return shareAck{}, errInvalidRecordState // more than anyone can hold
			}
			ops = append(ops, op)
			if op.Kind != pop.OpRenew {
				done = append(done, op.Offset)
			}
		}
	}
	if !h.share.serials(m, k, ops) {
		return shareAck{}, errInvalidRecordState
	}
	return shareAck{key: k, ops: ops, done: done}, errNone
}

// hold records locks a member was given.
func (s *shareState) hold(m shareMember, k pop.Key, offs []int64, serials []uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byKey := s.held[m]
	if byKey == nil {
		byKey = map[pop.Key]map[int64]uint32{}
		s.held[m] = byKey
	}
	locks := byKey[k]
	if locks == nil {
		locks = map[int64]uint32{}
		byKey[k] = locks
	}
	for i, off := range offs {
		locks[off] = serials[i]
	}
}

// prune forgets, once the member's locks on k pass max, those below
// acked: records done since (settled by others after this member's lock
// expired). Locks it lost are otherwise only dropped when it settles them
// (refused) or leaves.
func (s *shareState) prune(m shareMember, k pop.Key, max int, acked func() int64) {
	s.mu.Lock()
	n := len(s.held[m][k])
	s.mu.Unlock()
	if n <= max {
		return
	}
	low := acked() // the engine's lock: never under mu
	s.mu.Lock()
	defer s.mu.Unlock()
	for off := range s.held[m][k] {
		if off < low {
			delete(s.held[m][k], off)
		}
	}
}

// serials fills each op's lock serial with the member's lock on its
// offset; false when the member holds one of them not.
func (s *shareState) serials(m shareMember, k pop.Key, ops []pop.Op) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	locks := s.held[m][k]
	for i := range ops {
		sv, ok := locks[ops[i].Offset]
		if !ok {
			return false
		}
		ops[i].Serial = sv
	}
	return true
}

// drop forgets locks the member settled (or lost).
func (s *shareState) drop(m shareMember, k pop.Key, offs []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	locks := s.held[m][k]
	for _, off := range offs {
		delete(locks, off)
	}
	if len(locks) == 0 {
		delete(s.held[m], k)
	}
}

// takeAll removes and returns everything a member holds.
func (s *shareState) takeAll(m shareMember) map[pop.Key]map[int64]uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.held[m]
	delete(s.held, m)
	return out
}

// releaseMember gives back what a member that left holds: each record
// is deliverable again at once. One step per partition; when a lock in it
// expired meanwhile (deliverable already), record by record.
func (h *Handler) releaseMember(ctx context.Context, m shareMember) {
	for k, locks := range h.share.takeAll(m) {
		ops := make([]pop.Op, 0, len(locks))
		for off, serial := range locks {
			ops = append(ops, pop.Op{Offset: off, Serial: serial, Kind: pop.OpRelease})
		}
		h.share.kick()
		if h.cfg.Pop.Settle(ctx, k, ops) == nil {
			continue
		}
		for _, op := range ops {
			err := h.cfg.Pop.Settle(ctx, k, []pop.Op{op})
			if err != nil && !errors.Is(err, pop.ErrLockExpired) && !errors.Is(err, pop.ErrNotHeld) {
				h.log.Warn("kafkaapi: releasing a share member's record", "group", m.group, "member", m.member,
					"topic", k.Topic, "partition", k.Queue, "offset", op.Offset, "err", err)
			}
		}
	}
}

// shareAPIs are the share-group keys, served with Config.Pop.
func shareAPIs() map[int16]api {
	return map[int16]api{
		76: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.shareGroupHeartbeat(r, q.(*kmsg.ShareGroupHeartbeatRequest))
		}},
		77: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.shareGroupDescribe(r, q.(*kmsg.ShareGroupDescribeRequest))
		}},
		78: {2, func(h *Handler, r *request, q kmsg.Request) { h.shareFetch(r, q.(*kmsg.ShareFetchRequest)) }},
		79: {2, func(h *Handler, r *request, q kmsg.Request) {
			h.shareAcknowledge(r, q.(*kmsg.ShareAcknowledgeRequest))
		}},
		90: {1, func(h *Handler, r *request, q kmsg.Request) {
			h.describeShareGroupOffsets(r, q.(*kmsg.DescribeShareGroupOffsetsRequest))
		}},
		91: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.alterShareGroupOffsets(r, q.(*kmsg.AlterShareGroupOffsetsRequest))
		}},
		92: {0, func(h *Handler, r *request, q kmsg.Request) {
			h.deleteShareGroupOffsets(r, q.(*kmsg.DeleteShareGroupOffsetsRequest))
		}},
	}
}

func (h *Handler) registerShare() {
	if h.cfg.ShareGroups == nil {
		h.cfg.ShareGroups = sharegroup.New(sharegroup.Config{})
	}
	h.share = newShareState()
	for k, a := range shareAPIs() {
		h.apis[k] = a
	}
}

// listShareGroups lists the share groups for ListGroups (type "share",
// state Empty or Stable), leaving out names listed already: the groups
// the coordinator knows and those with POP state or configs (a RocketMQ 5
// SimpleConsumer group's POP state is a share group's state too).
func (h *Handler) listShareGroups(req *kmsg.ListGroupsRequest, listed []kmsg.ListGroupsResponseGroup) []kmsg.ListGroupsResponseGroup {
	if len(req.TypesFilter) > 0 && !containsFold(req.TypesFilter, "share") {
		return nil
	}
	seen := map[string]bool{}
	for _, g := range listed {
		seen[g.Group] = true
	}
	active := h.cfg.ShareGroups.Groups(h.cfg.Now())
	for _, g := range h.cfg.Pop.Groups() {
		if _, ok := active[g]; !ok {
			active[g] = false
		}
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, name := range slices.Sorted(maps.Keys(active)) {
		state := "Empty"
		if active[name] {
			state = "Stable"
		}
		if seen[name] || len(req.StatesFilter) > 0 && !containsFold(req.StatesFilter, state) {
			continue
		}
		g := kmsg.NewListGroupsResponseGroup()
		g.Group, g.ProtocolType, g.GroupState, g.GroupType = name, "share", state, "share"
		out = append(out, g)
	}
	return out
}

// deleteShareGroup deletes an empty share group: its membership, its
// POP state and its configs.
func (h *Handler) deleteShareGroup(ctx context.Context, group string) int16 {
	keys := h.cfg.Pop.Keys(group)
	_, known := h.cfg.ShareGroups.Describe(group, h.cfg.Now())
	if !known && len(keys) == 0 && len(h.cfg.Pop.GroupConfig(group)) == 0 {
		return errGroupIDNotFound
	}
	if err := h.cfg.ShareGroups.Delete(group, h.cfg.Now()); err != nil {
		return shareGroupCode(err)
	}
	for _, k := range keys {
		if err := h.cfg.Pop.Forget(ctx, k); err != nil {
			return codeOf(err)
		}
	}
	if err := h.cfg.Pop.SetGroupConfig(ctx, group, nil); err != nil {
		return codeOf(err)
	}
	return errNone
}
