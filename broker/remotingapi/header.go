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
	// short, when set, gives the short name a field may travel under
	// (SEND_MESSAGE_V2); the V1 name is looked up when it is absent.
	short map[string]string
}

// get returns field k, under its short name if the header uses those.
func (e *ext) get(k string) (string, bool) {
	if short, ok := e.short[k]; ok {
		if v, ok := e.m[short]; ok {
			return v, true
		}
	}
	v, ok := e.m[k]
	return v, ok
}

func (e *ext) str(k string) string { v, _ := e.get(k); return v }

func (e *ext) i64(k string, def int64) int64 {
	s, ok := e.get(k)
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

func (e *ext) boolean(k string) bool { return e.str(k) == "true" }

// require fails when a field is missing.
func (e *ext) require(keys ...string) {
	for _, k := range keys {
		if e.str(k) == "" && e.err == nil {
			e.err = fmt.Errorf("%w: field %s is required", errInvalidParameter, k)
		}
	}
}

// sendHeaderV2 maps the V1 names of the send header to
// SendMessageRequestHeaderV2's short names (docs/rocketmq-protocol.md §2.4).
var sendHeaderV2 = map[string]string{
	"producerGroup": "a", "topic": "b", "defaultTopic": "c", "defaultTopicQueueNums": "d",
	"queueId": "e", "sysFlag": "f", "bornTimestamp": "g", "flag": "h", "properties": "i",
	"reconsumeTimes": "j", "unitMode": "k", "maxReconsumeTimes": "l", "batch": "m", "bname": "n",
}

// sendHeader reads the send header by its V1 names whatever the client
// used: codes 310 and 320 carry V2 names, 10 V1 names. It reads them in
// place rather than copying the map under V1 names (one map per send).
func sendHeader(m map[string]string) ext {
	if _, v2 := m["b"]; v2 {
		return ext{m: m, short: sendHeaderV2}
	}
	return ext{m: m}
}
