package groups

import (
	"encoding/binary"
	"slices"
	"strings"
	"time"
)

// consumerRecordTag opens a KIP-848 group's record (layout in the package
// doc, "Consumer group record, version 1"); a classic record opens with
// recordVersion (1), so a value tells its kind by its first byte.
const consumerRecordTag = 0x84

// consumerKeyPrefix names a KIP-848 group's key in the kvlog table. The
// NUL bytes keep it apart from the classic keys, which are bare group ids.
const consumerKeyPrefix = "\x00848\x00"

// consumerKey returns the kvlog key of a KIP-848 group.
func consumerKey(group string) string { return consumerKeyPrefix + group }

// ConsumerRecord is a KIP-848 group's durable state: the group epoch, the
// target assignment at its assignment epoch and every member's epoch and
// assignment (KIP-848 "ConsumerGroupMetadata", "TargetAssignment" and
// "CurrentMemberAssignment" records, kept as one snapshot per group).
type ConsumerRecord struct {
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string
	SubsKey         string // what the target was computed from
	Dirty           bool   // membership changed since the target
	Members         []ConsumerMemberRecord
}

// ConsumerMemberRecord is one member of a ConsumerRecord.
type ConsumerMemberRecord struct {
	ID, InstanceID, RackID, ClientID, ClientHost string
	Epoch, PrevEpoch                             int32
	RebalanceTimeout                             time.Duration
	Left                                         bool
	Regex, Assignor                              string
	Topics                                       []string
	Assigned, Revoking, Target                   Assignment
}

// Record returns the group's durable state, members sorted by id.
func (g *ConsumerGroup) Record() ConsumerRecord {
	rec := ConsumerRecord{Epoch: g.Epoch, AssignmentEpoch: g.AssignmentEpoch, Assignor: g.Assignor,
		SubsKey: g.subsKey, Dirty: g.dirty}
	for _, m := range g.Members() {
		rec.Members = append(rec.Members, ConsumerMemberRecord{
			ID: m.ID, InstanceID: m.InstanceID, RackID: m.RackID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			Epoch: m.Epoch, PrevEpoch: m.PrevEpoch, RebalanceTimeout: m.RebalanceTimeout, Left: m.left,
			Regex: m.Regex, Assignor: m.Assignor, Topics: m.Topics,
			Assigned: m.Assigned, Revoking: m.Revoking, Target: g.target[m.ID],
		})
	}
	return rec
}

// RestoreConsumerGroup rebuilds a group from its record at start. Every
// member gets a fresh session from now (and a fresh rebalance timeout if
// it was revoking), so a member that keeps heartbeating with its epoch
// carries on with its partitions: no rejoin, no new group epoch.
func RestoreConsumerGroup(id string, cfg ConsumerConfig, rec ConsumerRecord, now time.Time) *ConsumerGroup {
	g := NewConsumerGroup(id, cfg)
	g.Epoch, g.AssignmentEpoch, g.Assignor = rec.Epoch, rec.AssignmentEpoch, rec.Assignor
	g.subsKey, g.dirty = rec.SubsKey, rec.Dirty
	for _, r := range rec.Members {
		m := &ConsumerMember{ID: r.ID, InstanceID: r.InstanceID, RackID: r.RackID, ClientID: r.ClientID,
			ClientHost: r.ClientHost, Epoch: r.Epoch, PrevEpoch: r.PrevEpoch, Topics: r.Topics, Regex: r.Regex,
			Assignor: r.Assignor, RebalanceTimeout: r.RebalanceTimeout, Assigned: r.Assigned, Revoking: r.Revoking,
			left: r.Left, expiresAt: now.Add(cfg.SessionTimeout)}
		if m.Assigned == nil {
			m.Assigned = Assignment{}
		}
		if m.RebalanceTimeout <= 0 {
			m.RebalanceTimeout = cfg.SessionTimeout
		}
		if len(m.Revoking) > 0 {
			m.revokeBy = now.Add(m.RebalanceTimeout)
		}
		g.members[m.ID] = m
		if r.Target != nil {
			g.target[m.ID] = r.Target
		}
		if m.InstanceID != "" {
			g.statics[m.InstanceID] = m.ID
		}
	}
	return g
}

// AppendConsumerRecord appends the encoding of rec (version 1) to dst.
func AppendConsumerRecord(dst []byte, rec ConsumerRecord) []byte {
	dst = append(dst, consumerRecordTag)
	dst = binary.BigEndian.AppendUint32(dst, uint32(rec.Epoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(rec.AssignmentEpoch))
	dst = appendStr(dst, rec.Assignor)
	dst = appendStr(dst, rec.SubsKey)
	dst = appendBool(dst, rec.Dirty)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Members)))
	for _, m := range rec.Members {
		for _, s := range []string{m.ID, m.InstanceID, m.RackID, m.ClientID, m.ClientHost} {
			dst = appendStr(dst, s)
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.Epoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.PrevEpoch))
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.RebalanceTimeout.Milliseconds()))
		dst = appendBool(dst, m.Left)
		dst = appendStr(dst, m.Regex)
		dst = appendStr(dst, m.Assignor)
		dst = binary.AppendUvarint(dst, uint64(len(m.Topics)))
		for _, t := range m.Topics {
			dst = appendStr(dst, t)
		}
		for _, a := range []Assignment{m.Assigned, m.Revoking, m.Target} {
			dst = appendAssignment(dst, a)
		}
	}
	return dst
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// appendAssignment writes topics in order, each with its partitions.
func appendAssignment(dst []byte, a Assignment) []byte {
	ts := a.sortedTopics()
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	for _, t := range ts {
		dst = appendStr(dst, t)
		dst = binary.AppendUvarint(dst, uint64(len(a[t])))
		for _, p := range a[t] {
			dst = binary.BigEndian.AppendUint32(dst, uint32(p))
		}
	}
	return dst
}

// Minimum encoded sizes, to bound counts before allocating.
const (
	minConsumerMemberSize = 5 + 3*4 + 1 + 2 + 1 + 3 // five strs, three int32s, flag, two strs, counts
	minAssignmentTopic    = 2
)

// DecodeConsumerRecord decodes a version 1 consumer group record.
// Partition lists come back sorted and without duplicates, as the core
// expects, whatever the bytes said.
func DecodeConsumerRecord(b []byte) (ConsumerRecord, error) {
	return decode(b, consumerRecordTag, "consumer record tag", func(r *reader) (rec ConsumerRecord) {
		rec.Epoch = r.int32("group epoch")
		rec.AssignmentEpoch = r.int32("assignment epoch")
		rec.Assignor = r.str("assignor")
		rec.SubsKey = r.str("subscriptions")
		rec.Dirty = r.bool("dirty")
		rec.Members = readList(r, "member count", minConsumerMemberSize, r.consumerMember)
		return rec
	})
}

func (r *reader) consumerMember() ConsumerMemberRecord {
	var m ConsumerMemberRecord
	m.ID = r.str("member id")
	m.InstanceID = r.str("instance id")
	m.RackID = r.str("rack id")
	m.ClientID = r.str("client id")
	m.ClientHost = r.str("client host")
	m.Epoch = r.int32("member epoch")
	m.PrevEpoch = r.int32("previous epoch")
	m.RebalanceTimeout = time.Duration(r.int32("rebalance timeout")) * time.Millisecond
	m.Left = r.bool("left")
	m.Regex = r.str("regex")
	m.Assignor = r.str("assignor")
	m.Topics = readList(r, "topic count", 1, func() string { return r.str("topic") })
	slices.Sort(m.Topics)
	m.Topics = slices.Compact(m.Topics)
	m.Assigned = r.assignment("assigned")
	m.Revoking = r.assignment("revoking")
	m.Target = r.assignment("target")
	return m
}

func (r *reader) bool(what string) bool {
	if len(r.b) < 1 || r.b[0] > 1 {
		r.fail(what)
		return false
	}
	v := r.b[0] == 1
	r.b = r.b[1:]
	return v
}

// assignment reads an assignment; nil when empty.
func (r *reader) assignment(what string) Assignment {
	n := r.uvarint(what+" topic count", minAssignmentTopic)
	if r.err != nil || n == 0 {
		return nil
	}
	a := make(Assignment, n)
	for range n {
		t := r.str(what + " topic")
		k := r.uvarint(what+" partition count", 4)
		if r.err != nil {
			return nil
		}
		ps := make([]int32, 0, k)
		for range k {
			ps = append(ps, r.int32(what+" partition"))
		}
		slices.Sort(ps)
		a[t] = append(a[t], slices.Compact(ps)...)
		slices.Sort(a[t])
		a[t] = slices.Compact(a[t])
	}
	return a
}

// isConsumerKey says whether a kvlog key names a KIP-848 group, and which.
func isConsumerKey(key string) (string, bool) {
	g, ok := strings.CutPrefix(key, consumerKeyPrefix)
	return g, ok && g != ""
}
