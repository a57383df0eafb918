package remoting

import "encoding/binary"

// StoredView is the part of a stored-message record (layout in the package
// doc) that a reader converting it needs, read in place: the byte fields
// alias the record and nothing is allocated. DecodeStoredMessage gives
// every field (hosts, a topic string); a Kafka fetch of RocketMQ-produced
// messages decodes thousands of them per fetch and needs only these.
type StoredView struct {
	QueueOffset     int64
	CommitLogOffset int64
	SysFlag         int32
	BornTimestamp   int64
	StoreTimestamp  int64
	Body            []byte
	Topic           []byte
	Properties      []byte
}

// Parse reads the record at the start of b into v, in place, and returns
// its length. It accepts exactly the records DecodeStoredMessage accepts
// (same checks: TOTALSIZE, magic, ports 0..65535, every length within
// TOTALSIZE and filling it exactly) and returns DecodeStoredMessage's error
// for the others, so callers see the same message either way; v is then
// zero. The byte fields have their capacity clipped, as
// DecodeStoredMessage's.
func (v *StoredView) Parse(b []byte) (int, error) {
	n, ok := v.parse(b)
	if !ok {
		*v = StoredView{}
		// The rare path: the full decoder names the field that failed.
		_, _, err := DecodeStoredMessage(b)
		if err == nil {
			err = fmtErr(ErrCorrupt, "record rejected by the view") // cannot happen: the two agree
		}
		return 0, err
	}
	return n, nil
}

// parse is Parse without the error. Positions follow the layout: fixed
// up to the born host at 48, then host-width dependent.
func (v *StoredView) parse(b []byte) (n int, ok bool) {
	if len(b) < 8 {
		return 0, false
	}
	size := int(int32(binary.BigEndian.Uint32(b)))
	if size < MinStoredLen || size > len(b) {
		return 0, false
	}
	b = b[:size]
	magic := binary.BigEndian.Uint32(b[4:])
	if magic != MagicV1 && magic != MagicV2 {
		return 0, false
	}
	// MinStoredLen (91) covers everything up to the born host.
	v.QueueOffset = int64(binary.BigEndian.Uint64(b[StoredQueueOffsetPos:]))
	v.CommitLogOffset = int64(binary.BigEndian.Uint64(b[StoredPhysicalOffsetPos:]))
	v.SysFlag = int32(binary.BigEndian.Uint32(b[StoredSysFlagPos:]))
	v.BornTimestamp = int64(binary.BigEndian.Uint64(b[40:]))
	off := storedBornHostPos
	if off, ok = viewHost(b, off, v.SysFlag&SysFlagBornHostV6 != 0); !ok {
		return 0, false
	}
	if off+8 > size {
		return 0, false
	}
	v.StoreTimestamp = int64(binary.BigEndian.Uint64(b[off:]))
	if off, ok = viewHost(b, off+8, v.SysFlag&SysFlagStoreHostV6 != 0); !ok {
		return 0, false
	}
	// RECONSUMETIMES 4, PreparedTransactionOffset 8, BODYLEN 4.
	if off+16 > size {
		return 0, false
	}
	bodyLen := int(int32(binary.BigEndian.Uint32(b[off+12:])))
	off += 16
	if v.Body, off, ok = viewField(b, off, bodyLen); !ok {
		return 0, false
	}
	var topicLen int
	if magic == MagicV2 {
		if off+2 > size {
			return 0, false
		}
		topicLen, off = int(int16(binary.BigEndian.Uint16(b[off:]))), off+2
	} else {
		if off+1 > size {
			return 0, false
		}
		topicLen, off = int(b[off]), off+1
	}
	if v.Topic, off, ok = viewField(b, off, topicLen); !ok {
		return 0, false
	}
	if off+2 > size {
		return 0, false
	}
	propsLen := int(int16(binary.BigEndian.Uint16(b[off:])))
	if v.Properties, off, ok = viewField(b, off+2, propsLen); !ok || off != size {
		return 0, false
	}
	return size, true
}

// viewHost checks the host at off (4 or 16 address bytes and an int32
// port in 0..65535) and returns the position after it.
func viewHost(b []byte, off int, v6 bool) (int, bool) {
	n := 4
	if v6 {
		n = 16
	}
	if off+n+4 > len(b) {
		return 0, false
	}
	port := int32(binary.BigEndian.Uint32(b[off+n:]))
	if port < 0 || port > 0xFFFF {
		return 0, false
	}
	return off + n + 4, true
}

// viewField returns the n bytes at off, capacity clipped, and the position
// after them.
func viewField(b []byte, off, n int) ([]byte, int, bool) {
	if n < 0 || n > len(b)-off {
		return nil, 0, false
	}
	return b[off : off+n : off+n], off + n, true
}
