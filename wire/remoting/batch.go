package remoting

import "fmt"

// The batch body of SEND_BATCH_MESSAGE (MessageDecoder.encodeMessages; Go
// primitive.Message.Marshal; docs/rocketmq-protocol.md §3.2).

// batchEntryFixed is the size of an entry without body and properties.
const batchEntryFixed = 4 + 4 + 4 + 4 + 4 + 2

// BatchMessage is one inner message of a batch body. Body and RawProperties
// alias the decoded body.
type BatchMessage struct {
	Flag          int32
	Body          []byte
	RawProperties []byte
	Properties    map[string]string
}

// DecodeBatch decodes a SEND_BATCH_MESSAGE body. Each entry's TOTALSIZE must
// equal its fields' sizes; MAGICCODE and BODYCRC are not checked (clients
// send 0; the broker recomputes the CRC when it stores the message).
func DecodeBatch(body []byte) ([]BatchMessage, error) {
	// First pass: validate and count, so the slice is allocated once and
	// never larger than the input can justify.
	n := 0
	for off := 0; off < len(body); n++ {
		size, err := batchEntrySize(body[off:], off)
		if err != nil {
			return nil, err
		}
		off += size
	}
	out := make([]BatchMessage, 0, n)
	for off := 0; off < len(body); {
		r := reader{b: body[off:], what: ErrMalformed}
		size := int(r.i32("TOTALSIZE"))
		r.i32("MAGICCODE")
		r.i32("BODYCRC")
		m := BatchMessage{Flag: r.i32("FLAG")}
		m.Body = r.bytes(int(r.i32("BODYLEN")), "BODY")
		m.RawProperties = r.bytes(int(r.i16("PROPERTIESLEN")), "PROPERTIES")
		if r.err != nil { // unreachable after the first pass; kept for safety
			return nil, r.err
		}
		m.Properties = ParseProperties(m.RawProperties)
		out = append(out, m)
		off += size
	}
	return out, nil
}

// batchEntrySize checks the entry at the start of b (at offset off of the
// body) and returns its size.
func batchEntrySize(b []byte, off int) (int, error) {
	r := reader{b: b, what: ErrMalformed}
	size := r.i32("TOTALSIZE")
	r.i32("MAGICCODE")
	r.i32("BODYCRC")
	r.i32("FLAG")
	bodyLen := r.i32("BODYLEN")
	r.bytes(int(bodyLen), "BODY")
	propLen := r.i16("PROPERTIESLEN")
	r.bytes(int(propLen), "PROPERTIES")
	if r.err != nil {
		return 0, fmt.Errorf("batch entry at %d: %w", off, r.err)
	}
	if int(size) != r.off {
		return 0, fmt.Errorf("batch entry at %d: %w: TOTALSIZE %d, fields take %d", off, ErrMalformed, size, r.off)
	}
	return r.off, nil
}

// AppendBatchMessage appends one batch entry as a client would (MAGICCODE and
// BODYCRC 0). It is the inverse of DecodeBatch, for tests and tools; the
// caller keeps RawProperties within MaxPropertiesLen.
func AppendBatchMessage(dst []byte, flag int32, body, rawProperties []byte) []byte {
	dst = appendU32(dst, uint32(batchEntryFixed+len(body)+len(rawProperties)))
	dst = appendU32(dst, 0)
	dst = appendU32(dst, 0)
	dst = appendU32(dst, uint32(flag))
	dst = appendU32(dst, uint32(len(body)))
	dst = append(dst, body...)
	dst = appendU16(dst, uint16(len(rawProperties)))
	return append(dst, rawProperties...)
}
