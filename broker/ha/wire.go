package ha

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Wire constants (the layouts are drawn in the package doc; version 1).
const (
	Magic   uint32 = 0x54514841 // "TQHA"
	Version uint16 = 1

	// FrameHeaderSize is a data frame's header: phyOffset int64, bodySize
	// int32 (RocketMQ's classic HA frame).
	FrameHeaderSize = 12
	// ConfirmHeaderSize is a data frame's header on a stream whose slave
	// asked for confirmed offsets (Hello.Confirm): the classic header and
	// confirmOffset int64, the master's high watermark when it sent the
	// frame.
	ConfirmHeaderSize = FrameHeaderSize + 8
	// ReportSize is a slave's report: its max physical offset, int64.
	ReportSize = 8

	// MaxFrameBody bounds a data frame's body. RocketMQ sends 32 KiB
	// (haTransferBatchSize); twinmq sends up to 256 KiB so that catching
	// up a backlog costs fewer round trips through the slave's append.
	MaxFrameBody = 256 << 10

	maxName      = 255
	helloFixed   = 32 // magic .. writtenOffset
	replyFixed   = 16 // magic .. startOffset
	maxReplyText = 1024
	epochSize    = 12 // epoch int32, start int64
	maxEpochList = 2 + maxEpochs*epochSize
	// MaxHelloSize and MaxReplySize bound what a reader must buffer
	// before it can decode a hello or a reply.
	MaxHelloSize = helloFixed + 2 + maxName + 2 + maxName + maxEpochList
	MaxReplySize = replyFixed + 2 + maxReplyText + maxEpochList

	// helloEpochs is the hello flag saying an epoch list follows.
	helloEpochs uint16 = 1
	// helloConfirm is the hello flag asking for confirmed offsets in the
	// frames (ConfirmHeaderSize).
	helloConfirm uint16 = 2
	helloFlags          = helloEpochs | helloConfirm
)

// The timing both ends share (RocketMQ's haSendHeartbeatInterval and
// haHousekeepingInterval): an idle side speaks every DefaultHeartbeat, and
// a side silent for DefaultHousekeeping is given up on.
const (
	DefaultHeartbeat    = 5 * time.Second
	DefaultHousekeeping = 20 * time.Second
)

// Reply statuses.
const (
	StatusOK      uint16 = 0
	StatusRefused uint16 = 1
	// StatusTruncate: the slave's log goes past where it agrees with the
	// master's; it must cut it back to StartOffset and connect again.
	StatusTruncate uint16 = 2
)

// ErrMalformed marks bytes that are not a valid HA message.
var ErrMalformed = errors.New("ha: malformed message")

// Hello is what a slave sends first on a new connection: who it is and
// what its CommitLog holds.
type Hello struct {
	Cluster  string
	Broker   string // brokerName of the group
	BrokerID int64  // >= 1 for a slave
	// MinOffset and WrittenOffset are the slave's CommitLog range: the
	// master streams from WrittenOffset (or, for an empty log, from its
	// own min offset).
	MinOffset, WrittenOffset int64
	// Epochs is the slave's epoch list (controller mode; nil in classic
	// mode, and then not sent).
	Epochs []Epoch
	// Confirm asks the master to send its confirmed offset (the high
	// watermark: what every in-sync replica holds) in every frame, so that
	// the slave shows readers nothing a failover could take back.
	Confirm bool
}

// AppendHello appends h's encoding to dst. Names longer than 255 bytes
// are an error (no broker or cluster name is that long).
func AppendHello(dst []byte, h Hello) ([]byte, error) {
	if len(h.Cluster) > maxName || len(h.Broker) > maxName {
		return dst, fmt.Errorf("%w: cluster or broker name longer than %d bytes", ErrMalformed, maxName)
	}
	if len(h.Epochs) > maxEpochs {
		return dst, fmt.Errorf("%w: %d epochs", ErrMalformed, len(h.Epochs))
	}
	var flags uint16
	if h.Epochs != nil {
		flags |= helloEpochs
	}
	if h.Confirm {
		flags |= helloConfirm
	}
	dst = binary.BigEndian.AppendUint32(dst, Magic)
	dst = binary.BigEndian.AppendUint16(dst, Version)
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.BrokerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.MinOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.WrittenOffset))
	dst = appendString(dst, h.Cluster)
	dst = appendString(dst, h.Broker)
	if h.Epochs != nil {
		dst = appendEpochs(dst, h.Epochs)
	}
	return dst, nil
}

// DecodeHello decodes a hello from the start of b and reports how many
// bytes it took; n == 0 with a nil error means b holds only a prefix.
func DecodeHello(b []byte) (h Hello, n int, err error) {
	if len(b) < helloFixed {
		return h, 0, checkPrefix(b)
	}
	if err := checkMagic(b); err != nil {
		return h, 0, err
	}
	h.BrokerID = int64(binary.BigEndian.Uint64(b[8:]))
	h.MinOffset = int64(binary.BigEndian.Uint64(b[16:]))
	h.WrittenOffset = int64(binary.BigEndian.Uint64(b[24:]))
	if h.MinOffset < 0 || h.WrittenOffset < h.MinOffset {
		return h, 0, fmt.Errorf("%w: hello offsets [%d, %d)", ErrMalformed, h.MinOffset, h.WrittenOffset)
	}
	flags := binary.BigEndian.Uint16(b[6:])
	if flags&^helloFlags != 0 {
		return h, 0, fmt.Errorf("%w: hello flags %#x", ErrMalformed, flags)
	}
	h.Confirm = flags&helloConfirm != 0
	n = helloFixed
	if h.Cluster, n, err = readString(b, n, maxName); err != nil || n == 0 {
		return h, 0, err
	}
	if h.Broker, n, err = readString(b, n, maxName); err != nil || n == 0 {
		return h, 0, err
	}
	if flags&helloEpochs != 0 {
		if h.Epochs, n, err = readEpochs(b, n); err != nil || n == 0 {
			return h, 0, err
		}
	}
	return h, n, nil
}

// Reply is the master's answer to a hello.
type Reply struct {
	Status uint16
	// StartOffset is where the stream starts (StatusOK).
	StartOffset int64
	// Reason says why a hello was refused.
	Reason string
	// Epochs is the master's epoch list (empty in classic mode), which a
	// slave keeps as its own.
	Epochs []Epoch
}

// AppendReply appends r's encoding to dst; a reason is cut to 1 KiB.
func AppendReply(dst []byte, r Reply) []byte {
	dst = binary.BigEndian.AppendUint32(dst, Magic)
	dst = binary.BigEndian.AppendUint16(dst, Version)
	dst = binary.BigEndian.AppendUint16(dst, r.Status)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.StartOffset))
	reason := r.Reason
	if len(reason) > maxReplyText {
		reason = reason[:maxReplyText]
	}
	dst = appendString(dst, reason)
	if len(r.Epochs) > maxEpochs {
		r.Epochs = r.Epochs[len(r.Epochs)-maxEpochs:]
	}
	return appendEpochs(dst, r.Epochs)
}

// DecodeReply decodes a reply from the start of b; n == 0 with a nil
// error means b holds only a prefix.
func DecodeReply(b []byte) (r Reply, n int, err error) {
	if len(b) < replyFixed {
		return r, 0, checkPrefix(b)
	}
	if err := checkMagic(b); err != nil {
		return r, 0, err
	}
	r.Status = binary.BigEndian.Uint16(b[6:])
	r.StartOffset = int64(binary.BigEndian.Uint64(b[8:]))
	if r.Status > StatusTruncate || r.StartOffset < 0 {
		return r, 0, fmt.Errorf("%w: reply status %d start %d", ErrMalformed, r.Status, r.StartOffset)
	}
	if r.Reason, n, err = readString(b, replyFixed, maxReplyText); err != nil || n == 0 {
		return r, 0, err
	}
	if r.Epochs, n, err = readEpochs(b, n); err != nil || n == 0 {
		return r, 0, err
	}
	if len(r.Epochs) == 0 {
		r.Epochs = nil
	}
	return r, n, nil
}

// AppendFrameHeader appends a data frame's header: the body's physical
// offset in the master's CommitLog and its size (0: a heartbeat).
func AppendFrameHeader(dst []byte, phys int64, size int) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(phys))
	return binary.BigEndian.AppendUint32(dst, uint32(size))
}

// DecodeFrameHeader decodes a data frame's header (FrameHeaderSize
// bytes); a negative offset or a body over MaxFrameBody is malformed.
func DecodeFrameHeader(b []byte) (phys int64, size int, err error) {
	if len(b) < FrameHeaderSize {
		return 0, 0, fmt.Errorf("%w: frame header of %d bytes", ErrMalformed, len(b))
	}
	phys = int64(binary.BigEndian.Uint64(b))
	s := int32(binary.BigEndian.Uint32(b[8:]))
	if phys < 0 || s < 0 || s > MaxFrameBody {
		return 0, 0, fmt.Errorf("%w: frame at %d of %d bytes", ErrMalformed, phys, s)
	}
	return phys, int(s), nil
}

// AppendConfirmHeader appends a data frame's header on a stream with
// confirmed offsets: the classic header and the master's confirmed offset.
func AppendConfirmHeader(dst []byte, phys int64, size int, confirm int64) []byte {
	dst = AppendFrameHeader(dst, phys, size)
	return binary.BigEndian.AppendUint64(dst, uint64(confirm))
}

// DecodeConfirmHeader decodes a data frame's header on a stream with
// confirmed offsets (ConfirmHeaderSize bytes); a negative confirmed
// offset is malformed.
func DecodeConfirmHeader(b []byte) (phys int64, size int, confirm int64, err error) {
	if len(b) < ConfirmHeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: frame header of %d bytes", ErrMalformed, len(b))
	}
	if phys, size, err = DecodeFrameHeader(b); err != nil {
		return 0, 0, 0, err
	}
	confirm = int64(binary.BigEndian.Uint64(b[FrameHeaderSize:]))
	if confirm < 0 {
		return 0, 0, 0, fmt.Errorf("%w: confirmed offset %d", ErrMalformed, confirm)
	}
	return phys, size, confirm, nil
}

// AppendReport appends a slave's report of its max physical offset.
func AppendReport(dst []byte, offset int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(offset))
}

// DecodeReport decodes a report (ReportSize bytes).
func DecodeReport(b []byte) (int64, error) {
	if len(b) < ReportSize {
		return 0, fmt.Errorf("%w: report of %d bytes", ErrMalformed, len(b))
	}
	off := int64(binary.BigEndian.Uint64(b))
	if off < 0 {
		return 0, fmt.Errorf("%w: report offset %d", ErrMalformed, off)
	}
	return off, nil
}

func appendEpochs(dst []byte, l []Epoch) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(l)))
	for _, e := range l {
		dst = binary.BigEndian.AppendUint32(dst, uint32(e.Epoch))
		dst = binary.BigEndian.AppendUint64(dst, uint64(e.Start))
	}
	return dst
}

// readEpochs reads a count-prefixed epoch list at b[at:]; next == 0 (and
// no error) when b ends first. The list must be sorted (checkEpochs).
func readEpochs(b []byte, at int) (l []Epoch, next int, err error) {
	if len(b) < at+2 {
		return nil, 0, nil
	}
	n := int(binary.BigEndian.Uint16(b[at:]))
	if n > maxEpochs {
		return nil, 0, fmt.Errorf("%w: %d epochs (at most %d)", ErrMalformed, n, maxEpochs)
	}
	at += 2
	if len(b) < at+n*epochSize {
		return nil, 0, nil
	}
	l = make([]Epoch, n)
	for i := range l {
		l[i] = Epoch{Epoch: int32(binary.BigEndian.Uint32(b[at:])), Start: int64(binary.BigEndian.Uint64(b[at+4:]))}
		at += epochSize
	}
	if err := checkEpochs(l); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return l, at, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// readString reads a uint16-prefixed string at b[at:] and returns where
// it ends; next == 0 (and no error) when b ends first. A length over max
// is malformed.
func readString(b []byte, at, max int) (s string, next int, err error) {
	if len(b) < at+2 {
		return "", 0, nil
	}
	l := int(binary.BigEndian.Uint16(b[at:]))
	if l > max {
		return "", 0, fmt.Errorf("%w: string of %d bytes (at most %d)", ErrMalformed, l, max)
	}
	if len(b) < at+2+l {
		return "", 0, nil
	}
	return string(b[at+2 : at+2+l]), at + 2 + l, nil
}

// checkPrefix refuses a prefix that already cannot be a message.
func checkPrefix(b []byte) error {
	if len(b) >= 4 && binary.BigEndian.Uint32(b) != Magic {
		return fmt.Errorf("%w: bad magic %#x", ErrMalformed, binary.BigEndian.Uint32(b))
	}
	return nil
}

func checkMagic(b []byte) error {
	if m := binary.BigEndian.Uint32(b); m != Magic {
		return fmt.Errorf("%w: bad magic %#x", ErrMalformed, m)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != Version {
		return fmt.Errorf("%w: version %d (want %d)", ErrMalformed, v, Version)
	}
	return nil
}
