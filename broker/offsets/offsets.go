// Package offsets is the protocol-neutral durable consumer-offset table:
// one committed offset per (group, topic, queue), shared by RocketMQ
// consumer groups and Kafka consumer groups (docs/design.md section 4: "one offset per
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
// # Value layout, version 2
//
// A Kafka commit also carries the committed leader epoch (KIP-320) and a
// metadata string. Such a value is longer than 8 bytes, which tells it
// from version 1 (the key layout is unchanged):
//
//	value: offset int64 BE | leaderEpoch int32 BE | uvarint len(metadata) | metadata
//
// A commit with leader epoch -1 and empty metadata is written as version 1.
//
// Table methods are safe for concurrent use.
//
// # Followers
//
// On a slave the offset records are the master's, replicated with the
// CommitLog. OpenWith(ctx, store, Options{Follow: true}) opens a follower
// (a kvlog follower underneath) whose table follows them. While the
// master is down RocketMQ consumers pull from the slave and commit their
// offsets to it (UPDATE_CONSUMER_OFFSET, the commit flag of a pull), and
// read them back (QUERY_CONSUMER_OFFSET), so a follower does not refuse
// commits: Commit, CommitValue and CommitAsync go to a memory-only
// overlay, which Fetch, FetchValue, List and Groups read first. The
// master's own record for a key replaces the overlay entry when it
// arrives: the master is the authority, and the RocketMQ client commits
// its offsets to the master again once it is back (a commit the slave
// took and the master never saw can move a group back a little: at least
// once, never a skipped message). The overlay is lost at Close. Remove
// and Delete are admin operations and return ErrFollower. Promote turns
// the table into a writer and writes the overlay, so a slave that becomes
// the master keeps what consumers committed to it.
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
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// InternalTopic holds the table's records.
const InternalTopic = "__twinmq_consumer_offsets"

// Errors of the package.
var (
	ErrBadKey   = errors.New("offsets: bad record key")
	ErrBadValue = errors.New("offsets: bad record value")
	// ErrFollower refuses a deletion on a follower (a slave).
	ErrFollower = errors.New("offsets: read-only follower: delete offsets on the master")
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

// Value is a committed offset with what a Kafka commit carries besides.
type Value struct {
	Offset      int64
	LeaderEpoch int32 // -1: none
	Metadata    string
}

// Table is the offset table. mu guards m; kv serializes the writes.
// Lock order: writeMu, then mu.
type Table struct {
	kv  *kvlog.Log
	log *slog.Logger

	writeMu sync.Mutex // serializes writes so m matches the log order
	mu      sync.RWMutex
	m       map[Key]Value
	// pending holds CommitAsync offsets not yet written (guarded by mu);
	// FetchValue sees them first. On a follower it is the memory-only
	// overlay of every commit (package doc), written only after Promote.
	pending map[Key]Value

	stop chan struct{}
	done chan struct{}
}

// asyncFlushInterval is how often CommitAsync offsets are written: the
// Java broker persists consumer offsets every 5 s; this bounds what a crash
// can take back to a tenth of a second.
const asyncFlushInterval = 100 * time.Millisecond

// Options configures OpenWith.
type Options struct {
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Follow opens a follower for a slave (package doc, "Followers").
	Follow bool
}

// Open replays the table from store.
func Open(ctx context.Context, store *storage.Store, logger *slog.Logger) (*Table, error) {
	return OpenWith(ctx, store, Options{Logger: logger})
}

// OpenWith replays the table from store; with opt.Follow it opens a
// follower, which writes nothing until Promote.
func OpenWith(ctx context.Context, store *storage.Store, opt Options) (*Table, error) {
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	t := &Table{log: logger, m: make(map[Key]Value), pending: make(map[Key]Value),
		stop: make(chan struct{}), done: make(chan struct{})}
	kopt := kvlog.Options{Topic: InternalTopic, Logger: logger}
	if opt.Follow {
		kopt.Follow, kopt.OnChange = true, t.replicated
	}
	kv, err := kvlog.Open(ctx, store, kopt)
	if err != nil {
		return nil, fmt.Errorf("offsets: %w", err)
	}
	t.kv = kv
	if !opt.Follow {
		for k, v := range kv.Snapshot() {
			key, err := DecodeKey([]byte(k))
			if err != nil {
				kv.Close()
				return nil, err
			}
			val, err := DecodeValueMeta(v)
			if err != nil {
				kv.Close()
				return nil, err
			}
			t.m[key] = val
		}
	}
	go t.flushLoop()
	return t, nil
}

// replicated installs a follower's replicated record (kvlog OnChange); it
// replaces the overlay entry of the key.
func (t *Table) replicated(key string, value []byte, deleted bool) {
	k, err := DecodeKey([]byte(key))
	var v Value
	if err == nil && !deleted {
		v, err = DecodeValueMeta(value)
	}
	if err != nil {
		t.log.Error("offsets: skipping a replicated record", "err", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pending, k)
	if deleted {
		delete(t.m, k)
		return
	}
	t.m[k] = v
}

// Following reports whether the table is a follower.
func (t *Table) Following() bool { return t.kv.Following() }

// Sync waits until a follower has applied every record the store holds
// when Sync is called; on a writer it returns at once.
func (t *Table) Sync(ctx context.Context) error {
	if err := t.kv.Sync(ctx); err != nil {
		return fmt.Errorf("offsets: %w", err)
	}
	return nil
}

// Promote turns a follower into a writer (failover), once the store
// accepts appends, and writes the offsets committed to the follower that
// no replicated record replaced. Promoting a writer does nothing.
func (t *Table) Promote(ctx context.Context) error {
	if err := t.kv.Promote(ctx); err != nil {
		return fmt.Errorf("offsets: %w", err)
	}
	t.mu.RLock()
	n := len(t.pending)
	t.mu.RUnlock()
	if n > 0 {
		t.log.Info("offsets: writing the offsets committed while a follower", "count", n)
	}
	t.flushPending(ctx) // what fails stays pending for the flush loop
	return nil
}

// Close writes the pending CommitAsync offsets (a follower drops its
// overlay) and stops the table's background work.
func (t *Table) Close() {
	select {
	case <-t.stop:
	default:
		close(t.stop)
		<-t.done
	}
	t.kv.Close()
}

// CommitAsync records offset at once (Fetch sees it) and writes it with
// the next periodic flush, coalescing repeated commits of the same queue.
// It is for commits nobody waits on: the offset a RocketMQ pull carries
// (PULL_MESSAGE's commit-offset flag), written for every pull otherwise.
func (t *Table) CommitAsync(group, topic string, queue int32, offset int64) {
	if group == "" || topic == "" {
		return
	}
	t.mu.Lock()
	t.pending[Key{group, topic, queue}] = Value{Offset: offset, LeaderEpoch: -1}
	t.mu.Unlock()
}

func (t *Table) flushLoop() {
	defer close(t.done)
	tick := time.NewTicker(asyncFlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			t.flushPending(context.Background())
			return
		case <-tick.C:
			t.flushPending(context.Background())
		}
	}
}

// flushPending writes the pending offsets; one still unchanged afterwards
// leaves pending (a newer commit stays for the next flush).
func (t *Table) flushPending(ctx context.Context) {
	if t.kv.Following() {
		return // the overlay, until Promote
	}
	t.mu.RLock()
	if len(t.pending) == 0 {
		t.mu.RUnlock()
		return
	}
	batch := make(map[Key]Value, len(t.pending))
	for k, v := range t.pending {
		batch[k] = v
	}
	t.mu.RUnlock()
	for k, v := range batch {
		if err := t.commit(ctx, k, v, false); err != nil {
			t.log.Warn("offsets: writing a pulled commit failed", "group", k.Group, "topic", k.Topic, "queue", k.Queue, "err", err)
			continue
		}
		t.mu.Lock()
		if cur, ok := t.pending[k]; ok && cur == v {
			delete(t.pending, k)
		}
		t.mu.Unlock()
	}
}

// Commit stores offset for (group, topic, queue) durably, as the store's
// flush mode promises. Committing the offset already stored writes nothing.
func (t *Table) Commit(ctx context.Context, group, topic string, queue int32, offset int64) error {
	return t.CommitValue(ctx, Key{group, topic, queue}, Value{Offset: offset, LeaderEpoch: -1})
}

// CommitValue is Commit with a leader epoch and a metadata string (Kafka
// OffsetCommit). Committing the value already stored writes nothing. It
// supersedes a pending CommitAsync of the same key.
func (t *Table) CommitValue(ctx context.Context, k Key, v Value) error {
	return t.commit(ctx, k, v, true)
}

func (t *Table) commit(ctx context.Context, k Key, v Value, supersede bool) error {
	if k.Group == "" || k.Topic == "" {
		return fmt.Errorf("%w: empty group or topic", ErrBadKey)
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.kv.Following() {
		t.mu.Lock()
		t.pending[k] = v // the overlay (package doc, "Followers")
		t.mu.Unlock()
		return nil
	}
	t.mu.RLock()
	cur, ok := t.m[k]
	t.mu.RUnlock()
	if !ok || cur != v {
		if err := t.kv.Put(ctx, string(EncodeKey(nil, k)), AppendValue(nil, v)); err != nil {
			return fmt.Errorf("offsets: commit %s/%s/%d: %w", k.Group, k.Topic, k.Queue, err)
		}
	}
	t.mu.Lock()
	t.m[k] = v
	if supersede {
		delete(t.pending, k)
	}
	t.mu.Unlock()
	return nil
}

// Fetch returns the committed offset, or false if there is none.
func (t *Table) Fetch(group, topic string, queue int32) (int64, bool) {
	v, ok := t.FetchValue(Key{group, topic, queue})
	return v.Offset, ok
}

// FetchValue returns the committed value, or false if there is none.
func (t *Table) FetchValue(k Key) (Value, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if v, ok := t.pending[k]; ok {
		return v, ok
	}
	v, ok := t.m[k]
	return v, ok
}

// Remove deletes one committed offset (Kafka OffsetDelete); removing a
// missing one writes nothing.
func (t *Table) Remove(ctx context.Context, k Key) error {
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	if t.kv.Following() {
		return fmt.Errorf("offsets: delete %s/%s/%d: %w", k.Group, k.Topic, k.Queue, ErrFollower)
	}
	t.mu.Lock()
	delete(t.pending, k)
	_, ok := t.m[k]
	t.mu.Unlock()
	if !ok {
		return nil
	}
	if err := t.kv.Delete(ctx, string(EncodeKey(nil, k))); err != nil {
		return fmt.Errorf("offsets: delete %s/%s/%d: %w", k.Group, k.Topic, k.Queue, err)
	}
	t.mu.Lock()
	delete(t.m, k)
	t.mu.Unlock()
	return nil
}

// List returns the committed offsets whose group and topic match (an empty
// group or topic matches all), sorted by group, topic, queue.
func (t *Table) List(group, topic string) []Entry {
	t.mu.RLock()
	var out []Entry
	match := func(k Key) bool { return (group == "" || k.Group == group) && (topic == "" || k.Topic == topic) }
	for k, v := range t.m {
		if _, p := t.pending[k]; !p && match(k) {
			out = append(out, Entry{k, v.Offset})
		}
	}
	for k, v := range t.pending {
		if match(k) {
			out = append(out, Entry{k, v.Offset})
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
	for k := range t.pending {
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
	if t.kv.Following() {
		return 0, fmt.Errorf("offsets: delete %s/%s: %w", group, topic, ErrFollower)
	}
	n := 0
	t.mu.Lock()
	for k := range t.pending {
		if (group == "" || k.Group == group) && (topic == "" || k.Topic == topic) {
			delete(t.pending, k)
			if _, ok := t.m[k]; !ok {
				n++
			}
		}
	}
	t.mu.Unlock()
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

// DecodeValue decodes a record value's offset (either version).
func DecodeValue(b []byte) (int64, error) {
	v, err := DecodeValueMeta(b)
	return v.Offset, err
}

// AppendValue appends the encoding of v to dst: version 1 when v carries
// no leader epoch and no metadata, else version 2.
func AppendValue(dst []byte, v Value) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.Offset))
	if v.LeaderEpoch == -1 && v.Metadata == "" {
		return dst
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(v.LeaderEpoch))
	dst = binary.AppendUvarint(dst, uint64(len(v.Metadata)))
	return append(dst, v.Metadata...)
}

// DecodeValueMeta decodes a record value of either version.
func DecodeValueMeta(b []byte) (Value, error) {
	if len(b) < 8 {
		return Value{}, fmt.Errorf("%w: %d bytes, want at least 8", ErrBadValue, len(b))
	}
	v := Value{Offset: int64(binary.BigEndian.Uint64(b)), LeaderEpoch: -1}
	if len(b) == 8 {
		return v, nil
	}
	if len(b) < 12 {
		return Value{}, fmt.Errorf("%w: %d bytes", ErrBadValue, len(b))
	}
	v.LeaderEpoch = int32(binary.BigEndian.Uint32(b[8:]))
	md, rest, ok := readString(b[12:])
	if !ok || len(rest) != 0 {
		return Value{}, fmt.Errorf("%w: metadata", ErrBadValue)
	}
	v.Metadata = md
	return v, nil
}
