package remoting

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
	"strings"
)

// The stored-message record (MessageExtEncoder.encode,
// MessageDecoder.decode; docs/rocketmq-protocol.md §3.3). Layout in the package doc.

// Magic codes of a stored record.
const (
	MagicV1    uint32 = 0xDAA320A7 // 1-byte topic length; what Go clients read
	MagicV2    uint32 = 0xDAA320AB // 2-byte topic length; accepted on input only
	MagicBlank uint32 = 0xCBD43194 // Java's end-of-segment filler; not a message
)

// SYSFLAG bits (MessageSysFlag.java).
const (
	SysFlagCompressed          int32 = 0x1
	SysFlagMultiTags           int32 = 0x2
	SysFlagTransactionPrepared int32 = 0x4
	SysFlagTransactionCommit   int32 = 0x8
	SysFlagTransactionRollback int32 = 0xC
	SysFlagTransactionMask     int32 = 0xC
	SysFlagBornHostV6          int32 = 0x10
	SysFlagStoreHostV6         int32 = 0x20
	SysFlagNeedUnwrap          int32 = 0x40
	SysFlagInnerBatch          int32 = 0x80
)

// Fixed positions inside a stored record, for patching at append time.
const (
	StoredQueueOffsetPos    = 20
	StoredPhysicalOffsetPos = 28
	StoredSysFlagPos        = 36
	storedBornHostPos       = 48
)

// MinStoredLen is the smallest valid record: IPv4 hosts, V1, empty body,
// topic and properties.
const MinStoredLen = 91

// maxV1TopicLen is the longest topic written with MagicV1. Go clients read
// the V1 length byte unsigned and cannot read V2 at all, so V1 is kept up to
// 255 bytes; Java clients read it signed and need V2 above 127 (only retry
// topics can be that long).
const maxV1TopicLen = 255

// MessageExt is one stored message with every field of the record.
// Body and Properties alias the decoded bytes.
type MessageExt struct {
	BodyCRC                   uint32 // as decoded; AppendStoredMessage computes it
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	CommitLogOffset           int64 // PHYSICALOFFSET
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     string
	Properties                []byte // raw properties string (ParseProperties)
}

// OffsetMsgID returns the offsetMsgId clients compute for m (docs/rocketmq-protocol.md §4.1).
func (m *MessageExt) OffsetMsgID() string { return OffsetMsgID(m.StoreHost, m.CommitLogOffset) }

// BodyCRC is the BODYCRC field: CRC-32 IEEE of body masked to 31 bits
// (UtilAll.crc32).
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7fffffff }

// HostSysFlags returns the SYSFLAG host bits that fit born and store: a host
// that is not IPv4 (nor IPv4-mapped) needs the V6 bit.
func HostSysFlags(born, store netip.AddrPort) int32 {
	var f int32
	if !born.Addr().Unmap().Is4() {
		f |= SysFlagBornHostV6
	}
	if !store.Addr().Unmap().Is4() {
		f |= SysFlagStoreHostV6
	}
	return f
}

func hostLen(v6 bool) int {
	if v6 {
		return 20
	}
	return 8
}

// StoreTimestampPos returns the position of STORETIMESTAMP in a record with
// the given SYSFLAG: 56 with an IPv4 born host, 68 with IPv6.
func StoreTimestampPos(sysFlag int32) int {
	return storedBornHostPos + hostLen(sysFlag&SysFlagBornHostV6 != 0)
}

// StoredLen returns the size of m's record.
func StoredLen(m *MessageExt) int {
	topicLen := 1
	if len(m.Topic) > maxV1TopicLen {
		topicLen = 2
	}
	return 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 +
		hostLen(m.SysFlag&SysFlagBornHostV6 != 0) + 8 + hostLen(m.SysFlag&SysFlagStoreHostV6 != 0) +
		4 + 8 + 4 + len(m.Body) + topicLen + len(m.Topic) + 2 + len(m.Properties)
}

// AppendStoredMessage appends m's record. Host widths follow m.SysFlag (see
// HostSysFlags); a host that does not fit a 4-byte slot is written as
// 0.0.0.0. BODYCRC is computed from m.Body. The magic is V1 unless the topic
// is longer than 255 bytes. The caller keeps the topic and properties within
// 32767 bytes (an oversized field yields a record DecodeStoredMessage
// rejects).
func AppendStoredMessage(dst []byte, m *MessageExt) []byte {
	v2 := len(m.Topic) > maxV1TopicLen
	magic := MagicV1
	if v2 {
		magic = MagicV2
	}
	dst = appendU32(dst, uint32(StoredLen(m)))
	dst = appendU32(dst, magic)
	dst = appendU32(dst, BodyCRC(m.Body))
	dst = appendU32(dst, uint32(m.QueueID))
	dst = appendU32(dst, uint32(m.Flag))
	dst = appendU64(dst, uint64(m.QueueOffset))
	dst = appendU64(dst, uint64(m.CommitLogOffset))
	dst = appendU32(dst, uint32(m.SysFlag))
	dst = appendU64(dst, uint64(m.BornTimestamp))
	dst = appendHost(dst, m.BornHost, m.SysFlag&SysFlagBornHostV6 != 0)
	dst = appendU64(dst, uint64(m.StoreTimestamp))
	dst = appendHost(dst, m.StoreHost, m.SysFlag&SysFlagStoreHostV6 != 0)
	dst = appendU32(dst, uint32(m.ReconsumeTimes))
	dst = appendU64(dst, uint64(m.PreparedTransactionOffset))
	dst = appendU32(dst, uint32(len(m.Body)))
	dst = append(dst, m.Body...)
	if v2 {
		dst = appendU16(dst, uint16(len(m.Topic)))
	} else {
		dst = append(dst, byte(len(m.Topic)))
	}
	dst = append(dst, m.Topic...)
	dst = appendU16(dst, uint16(len(m.Properties)))
	return append(dst, m.Properties...)
}

func appendHost(dst []byte, ap netip.AddrPort, v6 bool) []byte {
	a := ap.Addr()
	if v6 {
		ip := a.As16() // IPv4 as IPv4-mapped; the zero Addr as ::
		dst = append(dst, ip[:]...)
	} else if a = a.Unmap(); a.Is4() {
		ip := a.As4()
		dst = append(dst, ip[:]...)
	} else {
		dst = append(dst, 0, 0, 0, 0)
	}
	return appendU32(dst, uint32(ap.Port()))
}

// DecodeStoredMessage decodes the record at the start of b and returns it
// with its length. The fields must fill TOTALSIZE exactly; the magic must be
// V1 or V2; ports must be 0..65535. BODYCRC is returned, not checked:
// compare it with BodyCRC(m.Body) where that matters (recovery).
func DecodeStoredMessage(b []byte) (MessageExt, int, error) {
	var m MessageExt
	if len(b) < 8 {
		return m, 0, fmt.Errorf("%w: %d bytes, want at least %d", ErrCorrupt, len(b), MinStoredLen)
	}
	size := int(int32(binary.BigEndian.Uint32(b)))
	if size < MinStoredLen || size > len(b) {
		return m, 0, fmt.Errorf("%w: TOTALSIZE %d with %d bytes available", ErrCorrupt, size, len(b))
	}
	r := reader{b: b[:size], off: 4, what: ErrCorrupt}
	magic := uint32(r.i32("MAGICCODE"))
	if magic != MagicV1 && magic != MagicV2 {
		return m, 0, fmt.Errorf("%w: MAGICCODE %#x", ErrCorrupt, magic)
	}
	m.BodyCRC = uint32(r.i32("BODYCRC"))
	m.QueueID = r.i32("QUEUEID")
	m.Flag = r.i32("FLAG")
	m.QueueOffset = r.i64("QUEUEOFFSET")
	m.CommitLogOffset = r.i64("PHYSICALOFFSET")
	m.SysFlag = r.i32("SYSFLAG")
	m.BornTimestamp = r.i64("BORNTIMESTAMP")
	m.BornHost = readHost(&r, m.SysFlag&SysFlagBornHostV6 != 0, "BORNHOST", "BORNHOST port")
	m.StoreTimestamp = r.i64("STORETIMESTAMP")
	m.StoreHost = readHost(&r, m.SysFlag&SysFlagStoreHostV6 != 0, "STOREHOST", "STOREHOST port")
	m.ReconsumeTimes = r.i32("RECONSUMETIMES")
	m.PreparedTransactionOffset = r.i64("PreparedTransactionOffset")
	m.Body = r.bytes(int(r.i32("BODYLEN")), "BODY")
	var topicLen int
	if magic == MagicV2 {
		topicLen = int(r.i16("TOPICLEN"))
	} else {
		topicLen = int(r.u8("TOPICLEN"))
	}
	m.Topic = string(r.bytes(topicLen, "TOPIC"))
	m.Properties = r.bytes(int(r.i16("PROPERTIESLEN")), "PROPERTIES")
	if r.err == nil && r.off != size {
		r.fail("TOTALSIZE %d, fields take %d", size, r.off)
	}
	if r.err != nil {
		return MessageExt{}, 0, r.err
	}
	return m, size, nil
}

// readHost reads an address and its port; the field names are constants
// so that no name is built per message.
func readHost(r *reader, v6 bool, field, portField string) netip.AddrPort {
	var a netip.Addr
	if v6 {
		if ip := r.bytes(16, field); ip != nil {
			a = netip.AddrFrom16([16]byte(ip))
		}
	} else if ip := r.bytes(4, field); ip != nil {
		a = netip.AddrFrom4([4]byte(ip))
	}
	port := r.i32(portField)
	if port < 0 || port > 0xFFFF {
		r.fail("%s port %d", field, port)
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(port))
}

// PatchStored writes queueOffset, physicalOffset and storeTimestamp into the
// record at the start of b, in place: the CommitLog assigns them at append
// time without re-encoding. Positions: QUEUEOFFSET 20, PHYSICALOFFSET 28,
// STORETIMESTAMP StoreTimestampPos(SYSFLAG at 36). BODYCRC does not cover
// them.
func PatchStored(b []byte, queueOffset, physicalOffset, storeTimestamp int64) error {
	if len(b) < StoredSysFlagPos+4 {
		return fmt.Errorf("%w: %d bytes is too short to patch", ErrCorrupt, len(b))
	}
	sysFlag := int32(binary.BigEndian.Uint32(b[StoredSysFlagPos:]))
	pos := StoreTimestampPos(sysFlag)
	if len(b) < pos+8 {
		return fmt.Errorf("%w: %d bytes is too short to patch STORETIMESTAMP at %d", ErrCorrupt, len(b), pos)
	}
	putU64(b[StoredQueueOffsetPos:], uint64(queueOffset))
	putU64(b[StoredPhysicalOffsetPos:], uint64(physicalOffset))
	putU64(b[pos:], uint64(storeTimestamp))
	return nil
}

// StoredScanner splits a buffer of concatenated stored records (a pull
// body, a QUERY_MESSAGE body) by TOTALSIZE, checking the size and magic of
// each, without decoding them.
//
//	s := remoting.NewStoredScanner(body)
//	for s.Next() { rec := s.Record(); ... }
//	if err := s.Err(); err != nil { ... }
type StoredScanner struct {
	b   []byte
	off int
	rec []byte
	err error
}

// NewStoredScanner returns a scanner over b.
func NewStoredScanner(b []byte) *StoredScanner { return &StoredScanner{b: b} }

// Next advances to the next record; it returns false at the end of the
// buffer or on the first bad record (see Err).
func (s *StoredScanner) Next() bool {
	s.rec = nil
	if s.err != nil || s.off >= len(s.b) {
		return false
	}
	rest := s.b[s.off:]
	if len(rest) < 8 {
		s.err = fmt.Errorf("%w: %d trailing bytes at %d", ErrCorrupt, len(rest), s.off)
		return false
	}
	size := int(int32(binary.BigEndian.Uint32(rest)))
	magic := binary.BigEndian.Uint32(rest[4:])
	if size < MinStoredLen || size > len(rest) || (magic != MagicV1 && magic != MagicV2) {
		s.err = fmt.Errorf("%w: record at %d: TOTALSIZE %d, MAGICCODE %#x, %d bytes left", ErrCorrupt, s.off, size, magic, len(rest))
		return false
	}
	s.rec = rest[:size:size]
	s.off += size
	return true
}

// Record returns the current record, aliasing the buffer.
func (s *StoredScanner) Record() []byte { return s.rec }

// Offset returns the position just after the current record.
func (s *StoredScanner) Offset() int { return s.off }

// Err returns the first error met.
func (s *StoredScanner) Err() error { return s.err }

// StoreParts is what a broker stores of a message it accepts: the stored
// encoding of m (QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP still to
// be patched at append, PatchStored), the TAGS hash code to index it by
// (none without TAGS) and its keys for the IndexFile: KEYS split on
// whitespace, then UNIQ_KEY. The remoting and gRPC adapters store sends
// through it alike.
func StoreParts(m *MessageExt) (payload []byte, tagsCodes []int64, keys []string) {
	if tags, ok := PropertyValue(m.Properties, "TAGS"); ok {
		tagsCodes = []int64{TagsHashCode(string(tags))}
	}
	if k, ok := LookupProperty(m.Properties, "KEYS"); ok {
		keys = strings.Fields(k)
	}
	if u, ok := LookupProperty(m.Properties, "UNIQ_KEY"); ok {
		keys = append(keys, u)
	}
	return AppendStoredMessage(make([]byte, 0, StoredLen(m)), m), tagsCodes, keys
}
