package groups

import (
	"encoding/binary"
	"fmt"
	"time"
)

const recordVersion = 1

// Record is a group's durable metadata (layout in the package doc).
type Record struct {
	ProtocolType string
	Generation   int32
	Protocol     string
	Leader       string
	Members      []Member // runtime fields unset
}

// Record returns the group's durable metadata.
func (g *Group) Record() Record {
	rec := Record{ProtocolType: g.ProtocolType, Generation: g.Generation, Protocol: g.Protocol, Leader: g.Leader}
	for _, m := range g.Members() {
		rec.Members = append(rec.Members, Member{
			ID: m.ID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost,
			SessionTimeout: m.SessionTimeout, RebalanceTimeout: m.RebalanceTimeout,
			Protocols: m.Protocols, Assignment: m.Assignment,
		})
	}
	return rec
}

// Restore returns a group rebuilt from its record at start: Stable with
// the recorded generation if it has members (each with a fresh session
// from now), else Empty.
func Restore(id string, cfg Config, rec Record, now time.Time) *Group {
	g := New(id, cfg)
	g.ProtocolType, g.Generation, g.Protocol, g.Leader = rec.ProtocolType, rec.Generation, rec.Protocol, rec.Leader
	for i := range rec.Members {
		m := rec.Members[i]
		m.heartbeatAt = now.Add(m.SessionTimeout)
		g.add(&m)
	}
	if len(g.members) > 0 {
		g.State = Stable
		if _, ok := g.members[g.Leader]; !ok {
			g.Leader = g.order[0]
		}
	} else {
		g.Protocol, g.Leader = "", ""
	}
	return g
}

// AppendRecord appends the encoding of rec (version 1) to dst.
func AppendRecord(dst []byte, rec Record) []byte {
	dst = append(dst, recordVersion)
	dst = appendStr(dst, rec.ProtocolType)
	dst = binary.BigEndian.AppendUint32(dst, uint32(rec.Generation))
	dst = appendStr(dst, rec.Protocol)
	dst = appendStr(dst, rec.Leader)
	dst = binary.AppendUvarint(dst, uint64(len(rec.Members)))
	for _, m := range rec.Members {
		dst = appendStr(dst, m.ID)
		dst = appendStr(dst, m.InstanceID)
		dst = appendStr(dst, m.ClientID)
		dst = appendStr(dst, m.ClientHost)
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.SessionTimeout.Milliseconds()))
		dst = binary.BigEndian.AppendUint32(dst, uint32(m.RebalanceTimeout.Milliseconds()))
		dst = binary.AppendUvarint(dst, uint64(len(m.Protocols)))
		for _, p := range m.Protocols {
			dst = appendStr(dst, p.Name)
			dst = appendStr(dst, string(p.Metadata))
		}
		dst = appendStr(dst, string(m.Assignment))
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader decodes a record; it keeps its first error (STYLE.md: checked
// once at the end) and bounds every length by the remaining bytes.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) uvarint(what string, minSize int) int {
	n, w := binary.Uvarint(r.b)
	if w <= 0 || minSize > 0 && n > uint64(len(r.b)-w)/uint64(minSize) || minSize == 0 && n > uint64(len(r.b)-w) {
		r.fail(what)
		return 0
	}
	r.b = r.b[w:]
	return int(n)
}

// readList reads a count, bounded by minSize bytes per item, and that
// many items; nil for none.
func readList[T any](r *reader, what string, minSize int, item func() T) []T {
	n := r.uvarint(what, minSize)
	if n == 0 {
		return nil
	}
	out := make([]T, 0, n)
	for range n {
		out = append(out, item())
	}
	return out
}

// done is the decode's verdict: its first error, or trailing bytes.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

func (r *reader) str(what string) string {
	n := r.uvarint(what, 1)
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) bytes(what string) []byte {
	s := r.str(what)
	if s == "" {
		return nil
	}
	return []byte(s)
}

func (r *reader) int32(what string) int32 {
	if len(r.b) < 4 {
		r.fail(what)
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

// Minimum encoded sizes, to bound counts before allocating.
const (
	minMemberSize   = 4 + 4 + 4 + 1 // four empty strings, two int32s, counts
	minProtocolSize = 2
)

// DecodeRecord decodes a version 1 record.
func DecodeRecord(b []byte) (Record, error) {
	return decode(b, recordVersion, "version", func(r *reader) (rec Record) {
		rec.ProtocolType = r.str("protocol type")
		rec.Generation = r.int32("generation")
		rec.Protocol = r.str("protocol")
		rec.Leader = r.str("leader")
		rec.Members = readList(r, "member count", minMemberSize, r.member)
		return rec
	})
}

// decode checks a record's first byte (its version, or its kind's tag)
// and reads the rest with read, which must use every byte: the decoders
// of both kinds of group record.
func decode[T any](b []byte, first byte, what string, read func(*reader) T) (T, error) {
	var zero T
	if len(b) == 0 || b[0] != first {
		return zero, fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r := &reader{b: b[1:]}
	v := read(r)
	if err := r.done(); err != nil {
		return zero, err
	}
	return v, nil
}

func (r *reader) member() Member {
	var m Member
	m.ID = r.str("member id")
	m.InstanceID = r.str("instance id")
	m.ClientID = r.str("client id")
	m.ClientHost = r.str("client host")
	m.SessionTimeout = time.Duration(r.int32("session timeout")) * time.Millisecond
	m.RebalanceTimeout = time.Duration(r.int32("rebalance timeout")) * time.Millisecond
	m.Protocols = readList(r, "protocol count", minProtocolSize, func() Protocol {
		return Protocol{Name: r.str("protocol name"), Metadata: r.bytes("protocol metadata")}
	})
	m.Assignment = r.bytes("assignment")
	return m
}
