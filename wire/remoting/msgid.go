package remoting

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Message ids (docs/rocketmq-protocol.md §4).

// OffsetMsgID returns the broker-generated message id (the send response's
// msgId): upper-case hex of store IP (4 bytes, or 16 if not IPv4), port
// (int32) and commit-log offset (int64), as MessageDecoder.createMessageId.
func OffsetMsgID(storeHost netip.AddrPort, commitLogOffset int64) string {
	var b [16 + 4 + 8]byte
	n := putIP(b[:], storeHost.Addr())
	binary.BigEndian.PutUint32(b[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(b[n+4:], uint64(commitLogOffset))
	return upperHex(b[:n+12])
}

// upperHex is strings.ToUpper(hex.EncodeToString(b)) with one allocation
// (it runs once per send).
func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	var out [2 * (16 + 12)]byte
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&0xF]
	}
	return string(out[:2*len(b)])
}

// putIP writes a as 4 bytes when it is IPv4 or IPv4-mapped, else as 16, and
// returns the count.
func putIP(dst []byte, a netip.Addr) int {
	if u := a.Unmap(); u.Is4() {
		ip := u.As4()
		return copy(dst, ip[:])
	}
	ip := a.As16()
	return copy(dst, ip[:])
}

// ParseOffsetMsgID parses an offsetMsgId of 32 (IPv4) or 56 (IPv6) hex
// characters of either case, as MessageDecoder.decodeMessageId.
func ParseOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	var ipLen int
	switch len(id) {
	case 32:
		ipLen = 4
	case 56:
		ipLen = 16
	default:
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q has %d characters, want 32 or 56", ErrMsgID, id, len(id))
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q: %v", ErrMsgID, id, err)
	}
	addr, _ := netip.AddrFromSlice(b[:ipLen])
	port := binary.BigEndian.Uint32(b[ipLen:])
	if port > 0xFFFF {
		return netip.AddrPort{}, 0, fmt.Errorf("%w: %q has port %d", ErrMsgID, id, port)
	}
	off := int64(binary.BigEndian.Uint64(b[ipLen+4:]))
	return netip.AddrPortFrom(addr, uint16(port)), off, nil
}

// NewUniqID builds a UNIQ_KEY as the Java client's MessageClientIDSetter
// does: upper-case hex of ip (4 bytes, or 16 if not IPv4), pid (int16),
// class-loader hash (int32), milliseconds since the start of the month
// (int32) and a counter (int16).
func NewUniqID(ip netip.Addr, pid int16, classLoaderHash int32, sinceMonthStartMs int32, counter int16) string {
	var b [16 + 2 + 4 + 4 + 2]byte
	n := putIP(b[:], ip)
	binary.BigEndian.PutUint16(b[n:], uint16(pid))
	binary.BigEndian.PutUint32(b[n+2:], uint32(classLoaderHash))
	binary.BigEndian.PutUint32(b[n+6:], uint32(sinceMonthStartMs))
	binary.BigEndian.PutUint16(b[n+10:], uint16(counter))
	return upperHex(b[:n+12])
}

// UniqIDGenerator generates UNIQ_KEYs for messages that arrive without one
// (docs/rocketmq-protocol.md §2.4 step 5). The clock is injected; the month starts in the
// clock's location, as Java uses the JVM's default time zone. It is safe for
// concurrent use.
type UniqIDGenerator struct {
	ip              netip.Addr
	pid             int16
	classLoaderHash int32
	now             func() time.Time

	mu         sync.Mutex // guards the fields below
	counter    int16
	monthStart int64 // unix ms of the current month's start
	nextMonth  int64 // unix ms of the next month's start
}

// NewUniqIDGenerator returns a generator for the given host identity. Java
// truncates the pid to int16; so does this.
func NewUniqIDGenerator(ip netip.Addr, pid int, classLoaderHash int32, now func() time.Time) *UniqIDGenerator {
	return &UniqIDGenerator{ip: ip, pid: int16(pid), classLoaderHash: classLoaderHash, now: now}
}

// Next returns a new UNIQ_KEY.
func (g *UniqIDGenerator) Next() string {
	t := g.now()
	ms := t.UnixMilli()
	g.mu.Lock()
	if ms >= g.nextMonth || ms < g.monthStart {
		y, mo, _ := t.Date()
		start := time.Date(y, mo, 1, 0, 0, 0, 0, t.Location())
		g.monthStart = start.UnixMilli()
		g.nextMonth = start.AddDate(0, 1, 0).UnixMilli()
	}
	since := int32(ms - g.monthStart)
	counter := g.counter
	g.counter++
	g.mu.Unlock()
	return NewUniqID(g.ip, g.pid, g.classLoaderHash, since, counter)
}
