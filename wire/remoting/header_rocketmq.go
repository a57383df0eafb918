package remoting

import (
	"math"
	"slices"
)

// The ROCKETMQ binary header (RocketMQSerializable.java, docs/rocketmq-protocol.md §1.4).

// fitsBinaryHeader reports whether c can be carried in a ROCKETMQ header:
// code and version are int16 there and map keys have an int16 length.
func fitsBinaryHeader(c *Command) bool {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 || c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return false
	}
	for k := range c.ExtFields {
		if len(k) > math.MaxInt16 {
			return false
		}
	}
	return true
}

// appendBinaryHeader appends the ROCKETMQ header of c. Map entries are
// written in key order so that the output is deterministic.
func appendBinaryHeader(dst []byte, c *Command) []byte {
	dst = appendU16(dst, uint16(int16(c.Code)))
	dst = append(dst, languageCode(c.Language))
	dst = appendU16(dst, uint16(int16(c.Version)))
	dst = appendU32(dst, uint32(c.Opaque))
	dst = appendU32(dst, uint32(c.Flag))
	dst = appendU32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	var arr [16]string
	for _, k := range sortedKeys(arr[:0], c.ExtFields) {
		v := c.ExtFields[k]
		dst = appendU16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = appendU32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	extLen := len(dst) - lenAt - 4
	putU32(dst[lenAt:], uint32(extLen))
	return dst
}

// decodeBinaryHeader decodes a ROCKETMQ header. A zero-length remark is ""
// (null in Java); duplicate map keys keep the last value.
func decodeBinaryHeader(h []byte) (*Command, error) {
	r := reader{b: h, what: ErrMalformed}
	c := &Command{
		Code:     int32(r.i16("code")),
		Language: languageName(r.u8("language")),
		Version:  int32(r.i16("version")),
		Opaque:   r.i32("opaque"),
		Flag:     r.i32("flag"),
	}
	remarkLen := r.i32("remark length")
	c.Remark = string(r.bytes(int(remarkLen), "remark"))
	extLen := r.i32("extFields length")
	ext := reader{b: r.bytes(int(extLen), "extFields"), what: ErrMalformed}
	if r.err != nil {
		return nil, r.err
	}
	if r.remaining() != 0 {
		return nil, fmtErr(ErrMalformed, "%d bytes after the ROCKETMQ header's map", r.remaining())
	}
	// Each entry takes at least 6 bytes; size the map by that bound.
	c.ExtFields = make(map[string]string, min(len(ext.b)/6, 64))
	// Keys and values are substrings of one copy of the map's bytes.
	all := string(ext.b)
	for ext.remaining() > 0 && ext.err == nil {
		kl := ext.i16("extFields key length")
		k0 := ext.off
		ext.bytes(int(kl), "extFields key")
		k1 := ext.off
		vl := ext.i32("extFields value length")
		v0 := ext.off
		ext.bytes(int(vl), "extFields value")
		if ext.err == nil {
			c.ExtFields[all[k0:k1]] = all[v0:ext.off]
		}
	}
	if ext.err != nil {
		return nil, ext.err
	}
	return c, nil
}

// sortedKeys appends the keys of m to keys (a caller's stack array, so
// that encoding a header allocates nothing for them) in ascending order.
func sortedKeys(keys []string, m map[string]string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
