package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// State is a transaction's state (Kafka's TransactionState names).
type State uint8

// The states; see the package doc for the transitions.
const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
	Dead
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort", "Dead"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState is String's inverse (case as printed).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// Partition is one partition a transaction wrote to: a queue of the
// coordinator's broker group, or with Group set, of another group of its
// cluster (whose master the coordinator sends the markers).
type Partition struct {
	Topic     string
	Partition int32
	Group     string
}

// Offset is one consumer offset a transaction commits (TxnOffsetCommit):
// of a queue of the coordinator's broker group, or with Owner set, of
// another group of its cluster (whose master keeps that queue's offsets).
type Offset struct {
	Group       string
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	Owner       string
}

// Meta is one transactional id's coordinator state.
type Meta struct {
	ID         string
	ProducerID int64
	Epoch      int16
	TimeoutMs  int32
	State      State
	// StartMs is when the open transaction began (its first
	// AddPartitions or AddOffsets); UpdateMs the last change.
	StartMs, UpdateMs int64
	Partitions        []Partition // sorted, unique
	Groups            []string    // sorted, unique
	Offsets           []Offset    // last commit of a (group, topic, partition) wins
	// V2: the transaction runs KIP-890 part 2 (Kafka's transaction.version
	// 2): its EndTxn bumps the epoch. Set by the request that opened or
	// ended it.
	V2 bool
	// NextProducerID is the producer id a KIP-890 part 2 Prepare state
	// whose epoch bump exhausted the epoch moves to at Complete;
	// PrevProducerID the id it moved from, so that a retried EndTxn of
	// the old id is recognized. -1: none.
	NextProducerID, PrevProducerID int64
}

// Record layout versions: 1 is the package doc's; 2 appends the KIP-890
// part 2 fields. Records are written at recordVersion; both are read.
const (
	recordVersion1 = 1
	recordVersion  = 2
)

// flagV2 is Meta.V2 in a version 2 record's flags.
const flagV2 = 1

// ErrCorrupt marks a record that does not decode.
var ErrCorrupt = errors.New("txn: corrupt record")

// maxString bounds a string field (a u16 length).
const maxString = math.MaxUint16

// AppendMeta appends m's record value (package doc, version 1) to dst.
func AppendMeta(dst []byte, m *Meta) []byte {
	dst = append(dst, recordVersion, byte(m.State))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.ProducerID))
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Epoch))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.TimeoutMs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.StartMs))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.UpdateMs))
	local, remote := 0, 0
	for _, p := range m.Partitions {
		if p.Group == "" {
			local++
		} else {
			remote++
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(local))
	for _, p := range m.Partitions {
		if p.Group == "" {
			dst = appendString(dst, p.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Groups)))
	for _, g := range m.Groups {
		dst = appendString(dst, g)
	}
	localOffs := 0
	for _, o := range m.Offsets {
		if o.Owner == "" {
			localOffs++
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(localOffs))
	for _, o := range m.Offsets {
		if o.Owner == "" {
			dst = appendOffset(dst, &o)
		}
	}
	var flags byte
	if m.V2 {
		flags |= flagV2
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.NextProducerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.PrevProducerID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(remote))
	for _, p := range m.Partitions {
		if p.Group != "" {
			dst = appendString(dst, p.Topic)
			dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
			dst = appendString(dst, p.Group)
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Offsets)-localOffs))
	for _, o := range m.Offsets {
		if o.Owner != "" {
			dst = appendOffset(dst, &o)
			dst = appendString(dst, o.Owner)
		}
	}
	return dst
}

func appendOffset(dst []byte, o *Offset) []byte {
	dst = appendString(dst, o.Group)
	dst = appendString(dst, o.Topic)
	dst = binary.BigEndian.AppendUint32(dst, uint32(o.Partition))
	dst = binary.BigEndian.AppendUint64(dst, uint64(o.Offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(o.LeaderEpoch))
	return appendString(dst, o.Metadata)
}

// appendString writes a u16 length and s; callers bound s to maxString
// (topic and group names are far shorter; metadata is bounded by the
// adapter).
func appendString(dst []byte, s string) []byte {
	s = s[:min(len(s), maxString)]
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// reader reads a record, keeping its first error (kbin's habit).
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = ErrCorrupt
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str() string { return string(r.take(int(r.u16()))) }

func (r *reader) offset() Offset {
	return Offset{Group: r.str(), Topic: r.str(), Partition: int32(r.u32()),
		Offset: int64(r.u64()), LeaderEpoch: int32(r.u32()), Metadata: r.str()}
}

// count reads an element count and checks it against the bytes left,
// each element being at least minSize bytes, before anything is
// allocated for it.
func (r *reader) count(minSize int) int {
	n := int(r.u32())
	if r.err == nil && n > len(r.b)/minSize {
		r.err = ErrCorrupt
	}
	if r.err != nil {
		return 0
	}
	return n
}

// DecodeMeta decodes a record value of transactional id id.
func DecodeMeta(id string, b []byte) (Meta, error) {
	r := reader{b: b}
	v := r.u8()
	if r.err == nil && v != recordVersion1 && v != recordVersion {
		return Meta{}, fmt.Errorf("txn: %q: version %d: %w", id, v, ErrCorrupt)
	}
	m := Meta{ID: id, State: State(r.u8()), ProducerID: int64(r.u64()), Epoch: int16(r.u16()),
		TimeoutMs: int32(r.u32()), StartMs: int64(r.u64()), UpdateMs: int64(r.u64())}
	if m.State > Dead {
		r.err = ErrCorrupt
	}
	if n := r.count(6); n > 0 {
		m.Partitions = make([]Partition, n)
		for i := range m.Partitions {
			m.Partitions[i] = Partition{Topic: r.str(), Partition: int32(r.u32())}
		}
		// The core keeps them sorted and unique (it searches them).
		if !strictlySorted(m.Partitions) {
			r.err = ErrCorrupt
		}
	}
	if n := r.count(2); n > 0 {
		m.Groups = make([]string, n)
		for i := range m.Groups {
			m.Groups[i] = r.str()
		}
	}
	if n := r.count(22); n > 0 {
		m.Offsets = make([]Offset, n)
		for i := range m.Offsets {
			m.Offsets[i] = r.offset()
		}
	}
	m.NextProducerID, m.PrevProducerID = -1, -1
	if v == recordVersion {
		flags := r.u8()
		m.V2 = flags&flagV2 != 0
		m.NextProducerID, m.PrevProducerID = int64(r.u64()), int64(r.u64())
		if flags&^flagV2 != 0 {
			r.err = ErrCorrupt
		}
		if n := r.count(8); n > 0 {
			remote := make([]Partition, n)
			for i := range remote {
				remote[i] = Partition{Topic: r.str(), Partition: int32(r.u32()), Group: r.str()}
				if remote[i].Group == "" {
					r.err = ErrCorrupt
				}
			}
			if !strictlySorted(remote) {
				r.err = ErrCorrupt
			}
			m.Partitions = append(m.Partitions, remote...)
			slices.SortFunc(m.Partitions, comparePartition)
		}
		if n := r.count(23); n > 0 {
			for range n {
				o := r.offset()
				if o.Owner = r.str(); o.Owner == "" {
					r.err = ErrCorrupt
				}
				m.Offsets = append(m.Offsets, o)
			}
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = ErrCorrupt
	}
	if r.err != nil {
		return Meta{}, fmt.Errorf("txn: %q: %w", id, r.err)
	}
	return m, nil
}

func strictlySorted(ps []Partition) bool {
	for i := 1; i < len(ps); i++ {
		if comparePartition(ps[i-1], ps[i]) >= 0 {
			return false
		}
	}
	return true
}
