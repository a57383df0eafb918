package commitlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Kind says what an entry's payload is. Storage never looks inside a
// payload; the kind tells readers which protocol wrote it.
type Kind uint8

const (
	// KindRocketMQ is one RocketMQ message in the stored-message encoding.
	KindRocketMQ Kind = 1
	// KindKafka is one Kafka v2 record batch, as the producer sent it, with
	// baseOffset filled in.
	KindKafka Kind = 2
	// KindInternal is a record of a broker-internal topic (consumer offsets,
	// group metadata, producer ids, delay progress), or a topic-deletion
	// record (DeletionQueueID).
	KindInternal Kind = 3
	// kindBlank marks the unused end of a segment.
	kindBlank Kind = 0x7f
)

func (k Kind) valid() bool { return k == KindRocketMQ || k == KindKafka || k == KindInternal }

// Layout constants of entry format version 1, drawn in the package doc.
// They never change; a new layout gets a new version.
const (
	Magic         = 0x5451 // "TQ"
	FormatVersion = 1

	offLength      = 0
	offMagic       = 4
	offVersion     = 6
	offKind        = 7
	offCRC         = 8
	offHeaderLen   = 12
	offFlags       = 16
	offTopicLen    = 18
	offQueueID     = 20
	offQueueOffset = 24
	offCount       = 32
	offStoreTime   = 36
	offTopic       = 44

	// MinHeaderSize is the smallest valid header: fixed part, empty topic,
	// no tags, no keys.
	MinHeaderSize = offTopic + 4 + 4
	// BlankSize is how many bytes of the end-of-segment marker are written.
	BlankSize = 8

	flagTagsPerRecord = 1 << 0
	maxTopicLen       = 1<<16 - 1
	maxKeyLen         = 1<<16 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Sentinel errors. ErrCorrupt is the testable marker for any entry that
// fails validation; errors.Is works through the context wrapping.
var (
	ErrCorrupt        = errors.New("commitlog: corrupt entry")
	ErrFormatVersion  = errors.New("commitlog: unsupported format version")
	ErrEntryTooLarge  = errors.New("commitlog: entry too large")
	ErrOffsetNotFound = errors.New("commitlog: physical offset not found")
	ErrClosed         = errors.New("commitlog: closed")
	ErrFailed         = errors.New("commitlog: failed; the log refuses writes")
	// ErrNoSpace: the file system is full (ENOSPC, EDQUOT). The append
	// was refused and undone; the log has not failed, and a later append
	// succeeds once there is space again.
	ErrNoSpace = errors.New("commitlog: no space left on device; append refused")
)

// DeletionQueueID is the queue id of a topic-deletion record, which
// Log.DeleteTopic appends: KindInternal, the deleted topic's name, this
// queue id, count 1, no tags codes, keys or payload. No queue has this
// id: Append refuses negative queue ids.
const DeletionQueueID int32 = -1

// IsDeletion reports whether h is a topic-deletion record.
func (h *Header) IsDeletion() bool { return h.QueueID == DeletionQueueID && h.Kind == KindInternal }

// Entry is what an appender gives the log. Storage never interprets Payload.
type Entry struct {
	Kind    Kind
	Topic   string
	QueueID int32
	// Count is the number of logical offsets the entry covers: 1 for a
	// RocketMQ message, the record count for a Kafka batch.
	Count int32
	// TagsCodes holds nothing (all zero), one code for every covered
	// offset, or exactly Count codes.
	TagsCodes []int64
	// Keys are indexed for query by key or unique id (without the topic
	// prefix; the index adds it).
	Keys    []string
	Payload []byte
	// Encode, when set, runs under the append lock with the payload as it
	// lies in the write buffer, so the protocol can write the offsets and
	// the store time into it (RocketMQ QUEUEOFFSET/PHYSICALOFFSET/
	// STORETIMESTAMP, Kafka baseOffset). physOffset is the entry's own
	// CommitLog offset (what Log.Read and Store.ReadAt take), not the
	// payload's.
	Encode func(payload []byte, physOffset, queueOffset, storeTimestamp int64)
}

// Header is a parsed entry header. It is kept small (80 bytes): a batched
// read keeps one per entry.
type Header struct {
	Length      int32
	HeaderLen   int32
	QueueID     int32
	Count       int32
	Kind        Kind
	ntags       int32 // tags codes in hb
	QueueOffset int64
	StoreTime   int64
	Topic       string
	// hb is the entry's header bytes, validated: the tags codes and the
	// keys are read from it on demand.
	hb []byte
}

// tags returns the 8*ntags bytes of the tags codes.
func (h *Header) tags() []byte {
	if h.ntags == 0 {
		return nil
	}
	p := offTopic + int(binary.BigEndian.Uint16(h.hb[offTopicLen:])) + 4
	return h.hb[p : p+8*int(h.ntags)]
}

// keys returns the encoded key list: after the tags codes and the key
// count, to the end of the header.
func (h *Header) keys() []byte {
	if len(h.hb) == 0 {
		return nil
	}
	p := offTopic + int(binary.BigEndian.Uint16(h.hb[offTopicLen:])) + 4 + 8*int(h.ntags) + 4
	return h.hb[p:]
}

// TagsCode returns the tags hash code of the i-th covered offset.
func (h *Header) TagsCode(i int) int64 {
	tags := h.tags()
	n := len(tags) / 8
	switch {
	case n == 0:
		return 0
	case n == 1:
		return int64(binary.BigEndian.Uint64(tags))
	case i < n:
		return int64(binary.BigEndian.Uint64(tags[8*i:]))
	}
	return 0
}

// Keys calls fn for every indexed key of the entry.
func (h *Header) Keys(fn func(key string)) {
	b := h.keys()
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if 2+n > len(b) {
			return
		}
		fn(string(b[2 : 2+n]))
		b = b[2+n:]
	}
}

// encodedSize reports the header size and the whole entry size of e.
func (e *Entry) encodedSize() (hdr, total int, err error) {
	if len(e.Topic) > maxTopicLen {
		return 0, 0, fmt.Errorf("commitlog: topic of %d bytes: %w", len(e.Topic), ErrEntryTooLarge)
	}
	if e.Count < 1 {
		return 0, 0, fmt.Errorf("commitlog: entry count %d < 1", e.Count)
	}
	if n := len(e.TagsCodes); n > 1 && n != int(e.Count) {
		return 0, 0, fmt.Errorf("commitlog: %d tags codes for %d offsets", n, e.Count)
	}
	hdr = offTopic + len(e.Topic) + 4 + 8*len(e.TagsCodes) + 4
	for _, k := range e.Keys {
		if len(k) > maxKeyLen {
			continue
		}
		hdr += 2 + len(k)
	}
	return hdr, hdr + len(e.Payload), nil
}

// appendEntry encodes e at the end of dst with placeholder offsets; the
// caller fills them with stamp once the position is known.
func appendEntry(dst []byte, e *Entry, hdrLen, total int) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, offTopic)...)
	b := dst[start:]
	binary.BigEndian.PutUint32(b[offLength:], uint32(total))
	binary.BigEndian.PutUint16(b[offMagic:], Magic)
	b[offVersion] = FormatVersion
	b[offKind] = byte(e.Kind)
	binary.BigEndian.PutUint32(b[offHeaderLen:], uint32(hdrLen))
	var flags uint16
	if len(e.TagsCodes) > 1 {
		flags |= flagTagsPerRecord
	}
	binary.BigEndian.PutUint16(b[offFlags:], flags)
	binary.BigEndian.PutUint16(b[offTopicLen:], uint16(len(e.Topic)))
	binary.BigEndian.PutUint32(b[offQueueID:], uint32(e.QueueID))
	binary.BigEndian.PutUint32(b[offCount:], uint32(e.Count))
	dst = append(dst, e.Topic...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.TagsCodes)))
	for _, t := range e.TagsCodes {
		dst = binary.BigEndian.AppendUint64(dst, uint64(t))
	}
	var nkeys uint32
	for _, k := range e.Keys {
		if len(k) <= maxKeyLen {
			nkeys++
		}
	}
	dst = binary.BigEndian.AppendUint32(dst, nkeys)
	for _, k := range e.Keys {
		if len(k) > maxKeyLen {
			continue
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
	}
	return append(dst, e.Payload...)
}

// stamp writes the offsets and store time into an encoded entry b, runs
// the payload encoder and seals the entry with its CRC.
func stamp(b []byte, e *Entry, phys, queueOffset, storeTime int64) {
	binary.BigEndian.PutUint64(b[offQueueOffset:], uint64(queueOffset))
	binary.BigEndian.PutUint64(b[offStoreTime:], uint64(storeTime))
	hdrLen := int(binary.BigEndian.Uint32(b[offHeaderLen:]))
	if e.Encode != nil {
		e.Encode(b[hdrLen:], phys, queueOffset, storeTime)
	}
	binary.BigEndian.PutUint32(b[offCRC:], entryCRC(b))
}

func entryCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b[:offCRC])
	return crc32.Update(c, castagnoli, b[offHeaderLen:])
}

// errEnd reports the zero-filled end of written data: not corruption.
var errEnd = errors.New("commitlog: end of data")

// errBlank reports an end-of-segment marker.
var errBlank = errors.New("commitlog: end of segment")

// ParseHeader parses and, when verify is set, checks the CRC of the entry
// at the start of b. It never reads past b.
func ParseHeader(b []byte, verify bool) (Header, error) {
	return parseHeader(b, verify, nil)
}

// parseHeader is ParseHeader with a topic cache: when the entry's topic
// equals *topic, that string is reused instead of allocating one (scans
// meet long runs of the same topic); *topic is updated otherwise.
func parseHeader(b []byte, verify bool, topic *string) (Header, error) {
	var h Header
	err := parseHeaderInto(&h, b, verify, topic)
	return h, err
}

// parseHeaderInto is parseHeader writing into *h: batched reads parse
// straight into the header a reader keeps, field by field, rather than
// copying a whole Header (with its pointers) there. A parsed entry sets
// every field; after an error only some are set, the others are as
// they were.
func parseHeaderInto(h *Header, b []byte, verify bool, topic *string) error {
	if len(b) < BlankSize {
		if allZero(b) {
			return errEnd
		}
		return fmt.Errorf("%w: %d bytes left, less than a marker", ErrCorrupt, len(b))
	}
	length := int64(binary.BigEndian.Uint32(b[offLength:]))
	magic := binary.BigEndian.Uint16(b[offMagic:])
	if length == 0 && magic == 0 {
		return errEnd
	}
	if magic != Magic {
		return fmt.Errorf("%w: bad magic %#04x", ErrCorrupt, magic)
	}
	switch v := b[offVersion]; {
	case v == 0:
		// A torn write (the header's first sector on disk, the next one
		// still zero) looks like this; no format has version 0.
		return fmt.Errorf("%w: entry version 0", ErrCorrupt)
	case v != FormatVersion:
		return fmt.Errorf("%w: entry version %d, this build reads %d", ErrFormatVersion, v, FormatVersion)
	}
	h.Kind = Kind(b[offKind])
	if h.Kind == kindBlank {
		h.Length = int32(min(length, 1<<31-1))
		return errBlank
	}
	if !h.Kind.valid() {
		return fmt.Errorf("%w: unknown kind %d", ErrCorrupt, h.Kind)
	}
	if length < MinHeaderSize || length > int64(len(b)) {
		return fmt.Errorf("%w: length %d with %d bytes left", ErrCorrupt, length, len(b))
	}
	e := b[:length]
	if verify {
		if got, want := entryCRC(e), binary.BigEndian.Uint32(e[offCRC:]); got != want {
			return fmt.Errorf("%w: crc %#08x, computed %#08x", ErrCorrupt, want, got)
		}
	}
	return parseFields(h, e, topic)
}

func parseFields(h *Header, e []byte, topic *string) error {
	h.Length = int32(len(e))
	h.HeaderLen = int32(binary.BigEndian.Uint32(e[offHeaderLen:]))
	h.QueueID = int32(binary.BigEndian.Uint32(e[offQueueID:]))
	h.QueueOffset = int64(binary.BigEndian.Uint64(e[offQueueOffset:]))
	h.Count = int32(binary.BigEndian.Uint32(e[offCount:]))
	h.StoreTime = int64(binary.BigEndian.Uint64(e[offStoreTime:]))
	if h.HeaderLen < MinHeaderSize || int(h.HeaderLen) > len(e) || h.Count < 1 {
		return fmt.Errorf("%w: header length %d, count %d", ErrCorrupt, h.HeaderLen, h.Count)
	}
	hb := e[:h.HeaderLen]
	p := offTopic + int(binary.BigEndian.Uint16(e[offTopicLen:]))
	if p+4 > len(hb) {
		return fmt.Errorf("%w: topic overruns header", ErrCorrupt)
	}
	switch tb := hb[offTopic:p]; {
	case topic == nil:
		h.Topic = string(tb)
	case string(tb) == *topic: // no allocation for the comparison
		h.Topic = *topic
	default:
		h.Topic = string(tb)
		*topic = h.Topic
	}
	ntags := int64(binary.BigEndian.Uint32(hb[p:]))
	p += 4
	if ntags > int64(h.Count) || int64(p)+8*ntags+4 > int64(len(hb)) {
		return fmt.Errorf("%w: %d tags codes", ErrCorrupt, ntags)
	}
	// The key count is not needed: the key list is self-delimiting up to
	// HeaderLen.
	h.ntags, h.hb = int32(ntags), hb
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// appendBlank writes the end-of-segment marker covering remaining bytes.
func appendBlank(dst []byte, remaining int64) []byte {
	var b [BlankSize]byte
	binary.BigEndian.PutUint32(b[offLength:], uint32(remaining))
	binary.BigEndian.PutUint16(b[offMagic:], Magic)
	b[offVersion] = FormatVersion
	b[offKind] = byte(kindBlank)
	return append(dst, b[:]...)
}
