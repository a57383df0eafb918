package remotingapi

import (
	"fmt"
	"strconv"
)

// ext reads a request's custom header; the first bad field is kept in err
// and checked once.
type ext struct {
	m   map[string]string
	err error
}

func (e *ext) str(k string) string { return e.m[k] }

func (e *ext) i64(k string, def int64) int64 {
	s, ok := e.m[k]
	if !ok || s == "" || s == "null" {
		return def
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil && e.err == nil {
		e.err = fmt.Errorf("%w: field %s=%q", errInvalidParameter, k, s)
	}
	return v
}

func (e *ext) i32(k string, def int32) int32 {
	v := e.i64(k, int64(def))
	if (v < -1<<31 || v > 1<<31-1) && e.err == nil {
		e.err = fmt.Errorf("%w: field %s=%d out of range", errInvalidParameter, k, v)
	}
	return int32(v)
}

func (e *ext) boolean(k string) bool { return e.m[k] == "true" }

// require fails when a field is missing.
func (e *ext) require(keys ...string) {
	for _, k := range keys {
		if e.m[k] == "" && e.err == nil {
			e.err = fmt.Errorf("%w: field %s is required", errInvalidParameter, k)
		}
	}
}

// sendHeaderV2 maps SendMessageRequestHeaderV2's short names to the V1
// names (spec §2.4).
var sendHeaderV2 = map[string]string{
	"a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums",
	"e": "queueId", "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties",
	"j": "reconsumeTimes", "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch", "n": "bname",
}

// sendHeader returns the send header with V1 names whatever the client
// used: codes 310 and 320 carry V2 names, 10 V1 names.
func sendHeader(m map[string]string) map[string]string {
	if _, v2 := m["b"]; !v2 {
		return m
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if long, ok := sendHeaderV2[k]; ok {
			k = long
		}
		out[k] = v
	}
	return out
}
