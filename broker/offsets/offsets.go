// Package offsets is the protocol-neutral durable consumer-offset table:
// one committed offset per (group, topic, queue), shared by RocketMQ
// consumer groups and Kafka consumer groups (DESIGN.md §4: "one offset per
// (group, topic, queue), visible and settable from both"). It is a kvlog
// table on the internal topic "__twinmq_consumer_offsets", replayed at Open.
//
// # Record layout, version 1
//
// The kvlog key and value of one offset:
//
//	key:   uvarint len(group) | group | uvarint len(topic) | topic | queue int32 BE
//	value: offset int64 BE     (8 bytes)
//
// The offset is the next logical offset to consume (RocketMQ commitOffset,
// Kafka's committed offset); a deleted key means "no committed offset".
//
// Table methods are safe for concurrent use.
package offsets

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// InternalTopic holds the table's records.
const InternalTopic = "__twinmq_consumer_offsets"

// Errors of the package.
var (
	ErrBadKey   = errors.New("offsets: bad record key")
	ErrBadValue = errors.New("offsets: bad record value")
)

// Key names one committed offset.
type Key struct {
	Group string
	Topic string
	Queue int32
}

// Entry is a committed offset.
type Entry struct {
	Key
	Offset int64
}

// Table is the offset table. mu guards m; kv serializes the writes.
// Lock order: writeMu, then mu.
type Table struct {
	kv  *kvlog.Log
	log *slog.Logger

	writeMu sync.Mutex // serializes writes so m matches the log order
	mu      sync.RWMutex
	m       map[Key]int64
}

// Open replays the table from store.
func Open(ctx context.Context, store *storage.Store, logger *slog.Logger) (*Table, error) {
	if logger == nil {
		logger = slog.Default()
	}
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: InternalTopic, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("offsets: %w", err)
	}
	t := &Table{kv: kv, log: logger, m: make(map[Key]int64)}
	for k, v := range kv.Snapshot() {
		key, err := DecodeKey([]byte(k))
		if err != nil {
			kv.Close()
			return nil, err
		}
		off, err := DecodeValue(v)
		if err != nil {
			kv.Close()
			return nil, err
		}
		t.m[key] = off
	}
	return t, nil
}

// Close stops the table's background compaction.
func (t *Table) Close() { t.kv.Close() }

// Commit stores offset for (group, topic, queue) durably, as the store's
// flush mode promises. Committing the offset already stored writes nothing.
func (t *Table) Commit(ctx context.Context, group, topic string, queue int32, offset int64) error {
	k := Key{group, topic, queue}
	if group == "" || topic == "" {
		return fmt.Errorf("%w: empty group or topic", ErrBadKey)
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if cur, ok := t.Fetch(group, topic, queue); ok && cur == offset {
		return nil
	}
	if err := t.kv.Put(ctx, string(EncodeKey(nil, k)), binary.BigEndian.AppendUint64(nil, uint64(offset))); err != nil {
		return fmt.Errorf("offsets: commit %s/%s/%d: %w", group, topic, queue, err)
	}
	t.mu.Lock()
	t.m[k] = offset
	t.mu.Unlock()
	return nil
}

// Fetch returns the committed offset, or false if there is none.
func (t *Table) Fetch(group, topic string, queue int32) (int64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	off, ok := t.m[Key{group, topic, queue}]
	return off, ok
}

// List returns the committed offsets whose group and topic match (an empty
// group or topic matches all), sorted by group, topic, queue.
func (t *Table) List(group, topic string) []Entry {
	t.mu.RLock()
	var out []Entry
	for k, off := range t.m {
		if (group == "" || k.Group == group) && (topic == "" || k.Topic == topic) {
			out = append(out, Entry{k, off})
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Queue) - int(b.Queue)
	})
	return out
}

// Groups returns the groups with at least one committed offset, sorted.
func (t *Table) Groups() []string {
	t.mu.RLock()
	seen := make(map[string]struct{})
	for k := range t.m {
		seen[k.Group] = struct{}{}
	}
	t.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// Delete removes the committed offsets whose group and topic match (an
// empty group or topic matches all, but not both empty). It returns how
// many it removed.
func (t *Table) Delete(ctx context.Context, group, topic string) (int, error) {
	if group == "" && topic == "" {
		return 0, fmt.Errorf("%w: delete needs a group or a topic", ErrBadKey)
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	n := 0
	for _, e := range t.List(group, topic) {
		if err := t.kv.Delete(ctx, string(EncodeKey(nil, e.Key))); err != nil {
			return n, fmt.Errorf("offsets: delete %s/%s/%d: %w", e.Group, e.Topic, e.Queue, err)
		}
		t.mu.Lock()
		delete(t.m, e.Key)
		t.mu.Unlock()
		n++
	}
	return n, nil
}

// EncodeKey appends the record key of k to dst.
func EncodeKey(dst []byte, k Key) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k.Group)))
	dst = append(dst, k.Group...)
	dst = binary.AppendUvarint(dst, uint64(len(k.Topic)))
	dst = append(dst, k.Topic...)
	return binary.BigEndian.AppendUint32(dst, uint32(k.Queue))
}

// DecodeKey decodes a record key.
func DecodeKey(b []byte) (Key, error) {
	var k Key
	var ok bool
	if k.Group, b, ok = readString(b); !ok {
		return Key{}, fmt.Errorf("%w: group", ErrBadKey)
	}
	if k.Topic, b, ok = readString(b); !ok {
		return Key{}, fmt.Errorf("%w: topic", ErrBadKey)
	}
	if len(b) != 4 {
		return Key{}, fmt.Errorf("%w: %d bytes after the topic, want 4", ErrBadKey, len(b))
	}
	k.Queue = int32(binary.BigEndian.Uint32(b))
	return k, nil
}

func readString(b []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, false
	}
	return string(b[w : w+int(n)]), b[w+int(n):], true
}

// DecodeValue decodes a record value.
func DecodeValue(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %d bytes, want 8", ErrBadValue, len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}
