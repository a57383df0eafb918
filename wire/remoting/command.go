package remoting

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Command is one RemotingCommand (docs/rocketmq-protocol.md §1.2). The custom header travels
// flattened in ExtFields; Body is the raw bytes after the header.
type Command struct {
	Code      int32  // request code, or response code when IsResponse
	Language  string // LanguageCode name: "JAVA", "GO", ...
	Version   int32  // MQVersion ordinal of the sender
	Opaque    int32  // request id; a response copies the request's
	Flag      int32  // FlagResponse | FlagOneway
	Remark    string // error text or pull status on responses
	ExtFields map[string]string
	Body      []byte
	// SerializeType is the header encoding: SerializeJSON or
	// SerializeRocketMQ. Decode records what the peer used; AppendCommand
	// writes it (falling back to JSON when the command does not fit a
	// ROCKETMQ header).
	SerializeType uint8
}

// IsResponse reports whether the RPC_TYPE flag bit marks c as a response.
func (c *Command) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether the requester set RPC_ONEWAY and wants no reply.
// The Go client never sets it for its "oneway" sends (docs/rocketmq-protocol.md §1.6), so only
// this bit, not the request code, decides whether to skip the reply.
func (c *Command) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// NewRequest returns a request command originated by twinmq (broker to
// client, e.g. NOTIFY_CONSUMER_IDS_CHANGED) with an empty ExtFields map.
func NewRequest(code, opaque int32) *Command {
	return &Command{
		Code:      code,
		Language:  "JAVA",
		Version:   DefaultVersion,
		Opaque:    opaque,
		ExtFields: make(map[string]string),
	}
}

// NotSupported is the response to a request code the server does not
// serve: REQUEST_CODE_NOT_SUPPORTED with Java's remark, word for word
// (NettyRemotingAbstract.processRequestCommand). The connection stays up.
func NotSupported(req *Command) *Command {
	return NewResponse(req, RequestCodeNotSupported, " request type "+strconv.Itoa(int(req.Code))+" not supported")
}

// NewResponse returns the response to req: the request's opaque, the
// response flag, the request's serialize type and an empty ExtFields map.
func NewResponse(req *Command, code int32, remark string) *Command {
	return &Command{
		Code:          code,
		Language:      "JAVA",
		Version:       DefaultVersion,
		Opaque:        req.Opaque,
		Flag:          FlagResponse,
		Remark:        remark,
		ExtFields:     make(map[string]string),
		SerializeType: req.SerializeType,
	}
}

// FrameLen reports the size of the first frame in buf, its 4-byte length word
// included, once buf holds the whole frame; it returns 0 while more bytes are
// needed. The frame to hand to Decode is buf[4:n]. It fails with
// ErrFrameSize when the declared length is below 4 (no room for the
// header-length word) or the whole frame would exceed MaxFrameSize, so netio
// can close the connection before buffering anything more.
func FrameLen(buf []byte) (n int, err error) {
	if len(buf) < 4 {
		return 0, nil
	}
	declared := int64(int32(binary.BigEndian.Uint32(buf)))
	if declared < 4 || declared+4 > MaxFrameSize {
		return 0, fmt.Errorf("%w: declared length %d", ErrFrameSize, declared)
	}
	n = int(declared) + 4
	if len(buf) < n {
		return 0, nil
	}
	return n, nil
}

// Decode decodes one frame: the bytes after the 4-byte total length word,
// i.e. header-length word, header and body. Body aliases frame.
func Decode(frame []byte) (*Command, error) {
	if len(frame) < 4 {
		return nil, fmt.Errorf("%w: frame of %d bytes has no header-length word", ErrMalformed, len(frame))
	}
	word := binary.BigEndian.Uint32(frame)
	serType := uint8(word >> 24)
	hdrLen := int(word & 0xFFFFFF)
	if hdrLen > len(frame)-4 {
		return nil, fmt.Errorf("%w: header length %d exceeds frame remainder %d", ErrMalformed, hdrLen, len(frame)-4)
	}
	header := frame[4 : 4+hdrLen]
	var (
		c   *Command
		err error
	)
	switch serType {
	case SerializeJSON:
		c, err = decodeJSONHeader(header)
	case SerializeRocketMQ:
		c, err = decodeBinaryHeader(header)
	default:
		return nil, fmt.Errorf("%w: unknown serialize type %d", ErrMalformed, serType)
	}
	if err != nil {
		return nil, err
	}
	c.SerializeType = serType
	if body := frame[4+hdrLen:]; len(body) > 0 {
		c.Body = body[:len(body):len(body)]
	}
	return c, nil
}

// jsonCodePrefix is how the JSON headers of the Go, Java (fastjson) and
// Node clients begin: code is their first member.
const jsonCodePrefix = `{"code":`

// PeekCode reads the request or response code of frame (Decode's input)
// without decoding the header, so that a caller can pass over the frames
// it has no fast path for at the cost of a few byte compares: from a
// ROCKETMQ header, or from a JSON header that begins with a bare "code"
// number. ok is false when the code is not found that way (Decode tells
// then). It is a hint: a JSON header may repeat "code", and Decode keeps
// the last, so a caller that acts on the code decodes and checks again.
func PeekCode(frame []byte) (code int32, ok bool) {
	if len(frame) < 4 {
		return 0, false
	}
	word := binary.BigEndian.Uint32(frame)
	header := frame[4:]
	if hdrLen := int(word & 0xFFFFFF); hdrLen <= len(header) {
		header = header[:hdrLen]
	} else {
		return 0, false
	}
	switch uint8(word >> 24) {
	case SerializeRocketMQ:
		if len(header) < 2 {
			return 0, false
		}
		return int32(int16(binary.BigEndian.Uint16(header))), true
	case SerializeJSON:
		if len(header) <= len(jsonCodePrefix) || string(header[:len(jsonCodePrefix)]) != jsonCodePrefix {
			return 0, false
		}
		return peekJSONInt(header[len(jsonCodePrefix):])
	}
	return 0, false
}

// peekJSONInt reads an int32 written as [-]digits and followed by ',' or
// '}'.
func peekJSONInt(b []byte) (int32, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var n int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
		if n > 1<<31 {
			return 0, false
		}
	}
	if i == 0 || i == len(b) || (b[i] != ',' && b[i] != '}') {
		return 0, false
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 {
		return 0, false
	}
	return int32(n), true
}

// AppendCommand appends the whole frame of c (length word, header-length
// word, header, body) to dst.
func AppendCommand(dst []byte, c *Command) []byte {
	dst = AppendHeader(dst, c, len(c.Body))
	return append(dst, c.Body...)
}

// AppendHeader appends the frame prefix of c (length word, header-length
// word, header) for a body of bodyLen bytes that the caller sends after it
// (e.g. with writev over stored-message slices); c.Body is ignored.
//
// The header is ROCKETMQ when c.SerializeType is SerializeRocketMQ and c fits
// it (code and version in int16, keys under 32 KiB), JSON otherwise. The
// caller keeps the frame within MaxFrameSize: the header length field has 24
// bits and the peer rejects larger frames.
func AppendHeader(dst []byte, c *Command, bodyLen int) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	serType := SerializeJSON
	if c.SerializeType == SerializeRocketMQ && fitsBinaryHeader(c) {
		serType = SerializeRocketMQ
		dst = appendBinaryHeader(dst, c)
	} else {
		dst = appendJSONHeader(dst, c)
	}
	hdrLen := len(dst) - start - 8
	binary.BigEndian.PutUint32(dst[start:], uint32(4+hdrLen+bodyLen))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(serType)<<24|uint32(hdrLen)&0xFFFFFF)
	return dst
}
