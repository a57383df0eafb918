package pop

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadHandle: a receipt handle that does not decode or whose check
// fails (forged, altered, or made for another group or topic).
var ErrBadHandle = errors.New("pop: bad receipt handle")

// Handle names one lock of one record: what a consumer sends back to
// acknowledge it or change its invisible time.
//
// # Receipt handle layout (version 1)
//
//	+---------+--------+--------+--------+---------------------------+
//	| version | queue  | offset | serial | mac                       |
//	| uint8=1 | int32  | int64  | uint32 | 16 B: HMAC-SHA256, cut    |
//	+---------+--------+--------+--------+---------------------------+
//	 big-endian, 33 bytes, sent as unpadded base64url (44 characters)
//
// The MAC covers the group, the topic and the 17 bytes before it, keyed by
// the engine's secret: a handle only works for the group and topic it was
// issued to, and one made up or altered is refused before any state is
// looked at.
type Handle struct {
	Queue  int32
	Offset int64
	Serial uint32
}

const (
	handleVersion = 1
	handleBody    = 1 + 4 + 8 + 4
	handleMAC     = 16
	handleLen     = handleBody + handleMAC
	// HandleTextLen is the length of an encoded handle.
	HandleTextLen = (handleLen*8 + 5) / 6
)

func handleMACOf(secret []byte, group, topic string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(group)))
	m.Write(n[:])
	m.Write([]byte(group))
	binary.BigEndian.PutUint32(n[:], uint32(len(topic)))
	m.Write(n[:])
	m.Write([]byte(topic))
	m.Write(body)
	return m.Sum(nil)[:handleMAC]
}

// EncodeHandle returns the text of h for group and topic.
func EncodeHandle(secret []byte, group, topic string, h Handle) string {
	b := make([]byte, 0, handleLen)
	b = append(b, handleVersion)
	b = binary.BigEndian.AppendUint32(b, uint32(h.Queue))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Offset))
	b = binary.BigEndian.AppendUint32(b, h.Serial)
	b = append(b, handleMACOf(secret, group, topic, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeHandle parses and checks a handle sent for group and topic.
func DecodeHandle(secret []byte, group, topic, s string) (Handle, error) {
	if len(s) != HandleTextLen {
		return Handle{}, fmt.Errorf("%w: length %d", ErrBadHandle, len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != handleLen || b[0] != handleVersion {
		return Handle{}, fmt.Errorf("%w: does not decode", ErrBadHandle)
	}
	if !hmac.Equal(b[handleBody:], handleMACOf(secret, group, topic, b[:handleBody])) {
		return Handle{}, fmt.Errorf("%w: check failed", ErrBadHandle)
	}
	h := Handle{Queue: int32(binary.BigEndian.Uint32(b[1:])), Offset: int64(binary.BigEndian.Uint64(b[5:])),
		Serial: binary.BigEndian.Uint32(b[13:])}
	if h.Queue < 0 || h.Offset < 0 {
		return Handle{}, fmt.Errorf("%w: queue %d offset %d", ErrBadHandle, h.Queue, h.Offset)
	}
	return h, nil
}
