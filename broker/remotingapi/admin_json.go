package remotingapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Admin bodies keyed by message queue. Java's broker serializes
// Map<MessageQueue, V> with fastjson, which writes each key as the JSON
// object of the queue, unquoted, fields in alphabetical order:
//
//	{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"t"}:42,...}}
//
// That is not JSON, and it is what the Java admin client (mqadmin,
// rocketmq-dashboard) and rocketmq-client-go (ResetOffsetBody.Decode)
// parse, so twinmq writes the same bytes (ConsumeStats, TopicStatsTable,
// ResetOffsetBody) and reads them with DecodeMQMap.

// errBadMQMap is a body DecodeMQMap cannot read.
var errBadMQMap = errors.New("remotingapi: malformed message-queue map")

// maxMQMapEntries bounds the entries DecodeMQMap accepts (a topic has at
// most topics.MaxQueues queues; a consume-stats body lists several topics).
const maxMQMapEntries = 1 << 20

// appendMQ appends mq (lock.go; MessageQueue.java) as fastjson writes it
// as a map key.
func appendMQ(dst []byte, mq MessageQueue) []byte {
	dst = append(dst, `{"brokerName":`...)
	dst = appendJSONString(dst, mq.BrokerName)
	dst = append(dst, `,"queueId":`...)
	dst = strconv.AppendInt(dst, int64(mq.QueueID), 10)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, mq.Topic)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// mqEntry is one entry of a map keyed by message queue, its value already
// encoded.
type mqEntry struct {
	mq    MessageQueue
	value []byte
}

// appendMQMap appends {mq:value,...}.
func appendMQMap(dst []byte, entries []mqEntry) []byte {
	dst = append(dst, '{')
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendMQ(dst, e.mq)
		dst = append(dst, ':')
		dst = append(dst, e.value...)
	}
	return append(dst, '}')
}

// DecodeMQMap reads the field of body, an object in fastjson's form
// keyed by message queues, into a map with values of type V. It reads
// plain JSON with string keys too only when the map is empty, as
// fastjson writes no other form. Other fields of body are skipped.
func DecodeMQMap[V any](body []byte, field string) (map[MessageQueue]V, error) {
	out := make(map[MessageQueue]V)
	var found bool
	err := eachField(body, func(name string, val []byte) error {
		if name != field {
			return nil
		}
		found = true
		return eachMQEntry(val, func(k, v []byte) error {
			if len(out) >= maxMQMapEntries {
				return fmt.Errorf("%w: more than %d entries", errBadMQMap, maxMQMapEntries)
			}
			var mq MessageQueue
			if err := json.Unmarshal(k, &mq); err != nil {
				return fmt.Errorf("%w: key %.64q: %v", errBadMQMap, k, err)
			}
			var x V
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("%w: value %.64q: %v", errBadMQMap, v, err)
			}
			out[mq] = x
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: no field %q", errBadMQMap, field)
	}
	return out, nil
}

// eachField calls fn with each top-level field of the object in b and
// its raw value.
func eachField(b []byte, fn func(name string, val []byte) error) error {
	return eachPair(b, func(k, v []byte) error {
		var name string
		if err := json.Unmarshal(k, &name); err != nil {
			return fmt.Errorf("%w: field name %.64q", errBadMQMap, k)
		}
		return fn(name, v)
	})
}

// eachMQEntry calls fn with each key (an object) and value of the
// fastjson map in b.
func eachMQEntry(b []byte, fn func(k, v []byte) error) error {
	return eachPair(b, func(k, v []byte) error {
		if k[0] != '{' {
			return fmt.Errorf("%w: key %.64q is not a message queue", errBadMQMap, k)
		}
		return fn(k, v)
	})
}

// eachPair walks the object in b, whose keys may be any JSON value.
func eachPair(b []byte, fn func(k, v []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("%w: not an object", errBadMQMap)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		kEnd, err := skipValue(b, i)
		if err != nil {
			return err
		}
		k := b[i:kEnd]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return fmt.Errorf("%w: want ':' at %d", errBadMQMap, i)
		}
		i = skipSpace(b, i+1)
		vEnd, err := skipValue(b, i)
		if err != nil {
			return err
		}
		if err := fn(k, b[i:vEnd]); err != nil {
			return err
		}
		i = skipSpace(b, vEnd)
		if i >= len(b) {
			return fmt.Errorf("%w: unterminated object", errBadMQMap)
		}
		switch b[i] {
		case '}':
			return nil
		case ',':
			i = skipSpace(b, i+1)
		default:
			return fmt.Errorf("%w: want ',' or '}' at %d", errBadMQMap, i)
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// maxJSONDepth bounds nesting, so a hostile body cannot make skipValue
// count forever deeper (it keeps no stack, but the values it hands on
// go to encoding/json).
const maxJSONDepth = 64

// skipValue returns the end of the JSON value (object, array, string or
// scalar, objects allowed as keys) starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("%w: value expected at end", errBadMQMap)
	}
	switch b[i] {
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '{', '[':
				depth++
				if depth > maxJSONDepth {
					return 0, fmt.Errorf("%w: nested deeper than %d", errBadMQMap, maxJSONDepth)
				}
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			}
		}
		return 0, fmt.Errorf("%w: unterminated value", errBadMQMap)
	case '"':
		return skipString(b, i)
	default:
		j := i
		for j < len(b) && !bytes.ContainsRune([]byte(",:}] \t\r\n"), rune(b[j])) {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("%w: value expected at %d", errBadMQMap, i)
		}
		return j, nil
	}
}

// skipString returns the end of the JSON string starting at b[i] ('"').
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("%w: unterminated string", errBadMQMap)
}
