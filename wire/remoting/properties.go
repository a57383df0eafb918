package remoting

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

// The properties string (MessageDecoder.messageProperties2String and
// string2messageProperties, docs/rocketmq-protocol.md §3.1): key 0x01 value 0x02, repeated.

const (
	// NameValueSeparator separates a property's key from its value.
	NameValueSeparator = 0x01
	// PropertySeparator ends each property.
	PropertySeparator = 0x02
	// MaxPropertiesLen is the largest properties string: its length is an
	// int16 in the stored message and the batch body.
	MaxPropertiesLen = math.MaxInt16
)

// Property is one key/value pair, for callers that keep the client's order.
type Property struct {
	Key, Value string
}

// ParseProperties parses a properties string the way Java does: items are
// split at 0x02 (a missing trailing separator is fine); an item shorter than
// 3 bytes, or whose first 0x01 is at its start or end, is skipped; the value
// runs from the first 0x01 to the item's end; a repeated key keeps its last
// value.
func ParseProperties(s []byte) map[string]string {
	m := make(map[string]string, min(bytes.Count(s, []byte{PropertySeparator})+1, 64))
	for k, v := range eachProperty(s) {
		m[string(k)] = string(v)
	}
	return m
}

// ParsePropertyList is ParseProperties keeping every well-formed item in
// order, repeats included.
func ParsePropertyList(s []byte) []Property {
	var out []Property
	for k, v := range eachProperty(s) {
		out = append(out, Property{string(k), string(v)})
	}
	return out
}

// LookupProperty returns the value of key in the properties string s without
// building a map (e.g. TAGS or UNIQ_KEY on the append path). The last of
// repeated keys wins, as in ParseProperties.
func LookupProperty(s []byte, key string) (string, bool) {
	val, found := PropertyValue(s, key)
	return string(val), found
}

// PropertyValue is LookupProperty returning the value as a slice of s, so
// that a caller that only hashes or compares it allocates nothing.
func PropertyValue(s []byte, key string) ([]byte, bool) {
	var (
		val   []byte
		found bool
	)
	for k, v := range eachProperty(s) {
		if string(k) == key {
			val, found = v, true
		}
	}
	return val, found
}

// IsCanonicalProperties reports whether s is exactly what
// AppendPropertyList(nil, ParsePropertyList(s)) writes: every item
// well-formed and ended by 0x02. Such a string needs no re-encoding.
func IsCanonicalProperties(s []byte) bool {
	for len(s) > 0 {
		i := bytes.IndexByte(s, PropertySeparator)
		if i < 0 {
			return false // no trailing separator
		}
		item := s[:i]
		s = s[i+1:]
		sep := bytes.IndexByte(item, NameValueSeparator)
		if len(item) < 3 || sep <= 0 || sep >= len(item)-1 {
			return false
		}
	}
	return true
}

// eachProperty yields the well-formed items of s as slices of s.
func eachProperty(s []byte) func(yield func(k, v []byte) bool) {
	return func(yield func(k, v []byte) bool) {
		for len(s) > 0 {
			item := s
			if i := bytes.IndexByte(s, PropertySeparator); i >= 0 {
				item, s = s[:i], s[i+1:]
			} else {
				s = nil
			}
			if len(item) < 3 {
				continue
			}
			sep := bytes.IndexByte(item, NameValueSeparator)
			if sep <= 0 || sep >= len(item)-1 {
				continue
			}
			if !yield(item[:sep], item[sep+1:]) {
				return
			}
		}
	}
}

// AppendProperties appends m as a properties string, keys sorted so the
// bytes are deterministic, each pair followed by 0x02 as Java and Go write
// it. Pairs are written as given; ValidateProperties tells whether
// ParseProperties will read m back.
func AppendProperties(dst []byte, m map[string]string) []byte {
	for _, k := range sortedKeys(make([]string, 0, len(m)), m) {
		dst = AppendProperty(dst, k, m[k])
	}
	return dst
}

// AppendPropertyList appends the pairs in the order given.
func AppendPropertyList(dst []byte, props []Property) []byte {
	for _, p := range props {
		dst = AppendProperty(dst, p.Key, p.Value)
	}
	return dst
}

// AppendProperty appends one pair: the broker adds CLUSTER or UNIQ_KEY to a
// client's properties string this way without re-encoding it. A repeated key
// overrides the earlier one for every parser here and in Java.
func AppendProperty(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, NameValueSeparator)
	dst = append(dst, value...)
	return append(dst, PropertySeparator)
}

// ValidateProperties reports whether m survives AppendProperties then
// ParseProperties unchanged and fits MaxPropertiesLen: keys and values must
// be non-empty, keys free of 0x01 and 0x02, values free of 0x02. The broker
// answers MESSAGE_ILLEGAL (13) when it fails.
func ValidateProperties(m map[string]string) error {
	n := 0
	for k, v := range m {
		switch {
		case k == "" || v == "":
			return fmt.Errorf("%w: empty key or value for key %q", ErrProperties, k)
		case strings.ContainsAny(k, "\x01\x02"):
			return fmt.Errorf("%w: key %q contains a separator", ErrProperties, k)
		case strings.IndexByte(v, PropertySeparator) >= 0:
			return fmt.Errorf("%w: value of %q contains 0x02", ErrProperties, k)
		}
		n += len(k) + len(v) + 2
	}
	return CheckPropertiesLen(n)
}

// CheckPropertiesLen reports whether an encoded properties string of n bytes
// fits its int16 length field (Java: "properties length limit 32KB").
func CheckPropertiesLen(n int) error {
	if n > MaxPropertiesLen {
		return fmt.Errorf("%w: properties length %d exceeds %d", ErrProperties, n, MaxPropertiesLen)
	}
	return nil
}
