// Package kvlog is a small compacted key-value table kept as records of a
// broker-internal topic in the store (docs/design.md section 3: durable broker
// state is written as entries of internal topics, so it recovers and
// replicates like data; in-memory tables are rebuilt at start and
// snapshots bound the replay).
//
// # Record layout (version 1)
//
// Each record is one storage.KindInternal entry of queue 0 of the topic:
//
//	+---------+--------+-------------+-----+-------------------+
//	| version | op     | keyLen      | key | value             |
//	| uint8=1 | uint8  | uint16 (BE) |     | rest of the entry |
//	+---------+--------+-------------+-----+-------------------+
//	 op 1 = put, op 2 = delete (no value)
//
// Open replays the queue from its min offset; the last record of a key
// wins. Compaction appends every live key again, in one Append, then moves
// the queue's min offset to the first of them: a crash in between leaves
// both copies, which replay to the same table. Compaction also runs every
// CompactInterval so that CommitLog retention, which deletes old segments
// whatever they hold, never takes the only copy of a live key.
//
// # Followers
//
// On a slave the CommitLog is the master's, copied byte for byte, so the
// records of the topic arrive without this Log writing them, and nothing
// on the slave may append. A Log opened with Options.Follow replays as
// Open does but never writes: no compaction at Open, no compaction timer,
// and Put, Delete and Compact return ErrFollower. One goroutine (the tail)
// then parks on storage.Store.Notify past the last applied offset,
// applies the new records in order and calls Options.OnChange for each.
// When the queue's min offset has moved past the applied one (records
// dropped by a compaction on the same store, or by retention) it replays
// from the new min into a fresh table, which the compaction invariant
// above makes the whole table, and reports the difference. Sync waits
// for the tail. Promote stops the tail, applies what is left and turns
// the Log into a writer over exactly that table (failover).
package kvlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/storage"
)

const (
	recordVersion = 1
	opPut         = 1
	opDelete      = 2
	headerSize    = 4
	maxKeyLen     = 1<<16 - 1
	readChunk     = 4 << 20
)

// Errors of the package.
var (
	ErrCorrupt = errors.New("kvlog: corrupt record")
	ErrKey     = errors.New("kvlog: key empty or too long")
	ErrClosed  = errors.New("kvlog: closed")
	// ErrFollower refuses a write to a follower: its records are the
	// master's, and only Promote makes it a writer.
	ErrFollower = errors.New("kvlog: follower is read-only")
)

// Options configures a Log.
type Options struct {
	// Topic is the internal topic ("__twinmq_*").
	Topic string
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// CompactInterval is how often the table is rewritten (default 30 min;
	// keep it well under the store's retention).
	CompactInterval time.Duration
	// Follow opens a follower (package doc, "Followers"): it writes
	// nothing and applies the records that appear in the store until
	// Promote or Close.
	Follow bool
	// OnChange, when set, is called for what a follower applies: once per
	// live key of the table replayed at Open (before Open returns), then
	// after each record the tail applies (deleted reports a delete), and
	// for the difference when a replay from a moved min offset replaces
	// the table. Calls never overlap and come in log order; the first
	// ones on Open's goroutine, the others on the tail's or Promote's.
	// value must not be modified. A writer's own Put and Delete do not
	// call it. OnChange must not call the Log's Promote or Close.
	OnChange func(key string, value []byte, deleted bool)
}

// Log is the table. Safe for concurrent use; mu guards table, records,
// closed, timer and the follower fields under it, and serializes appends
// so the table always matches the log order. Lock order: promoteMu, mu.
type Log struct {
	store *storage.Store
	opt   Options

	promoteMu sync.Mutex // serializes Promote

	mu      sync.Mutex
	table   map[string][]byte
	records int // records in the queue since its min offset
	closed  bool
	timer   *time.Timer

	// Follower state (follow.go). following is set until Promote
	// succeeds. applied is the offset after the last record whose
	// OnChange has run; progress is closed and replaced when it moves
	// (and at Promote and Close). stop ends the tail, which closes done.
	following bool
	applied   int64
	progress  chan struct{}
	stop      chan struct{}
	done      chan struct{}

	// next is the offset the tail reads from: owned by the tail
	// goroutine, and by Open and Promote while no tail runs.
	next int64
}

// Open replays the table of opt.Topic and starts periodic compaction; with
// opt.Follow it replays, reports the table to opt.OnChange and starts
// the tail instead, writing nothing.
func Open(ctx context.Context, store *storage.Store, opt Options) (*Log, error) {
	if opt.Topic == "" {
		return nil, errors.New("kvlog: empty topic")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.CompactInterval <= 0 {
		opt.CompactInterval = 30 * time.Minute
	}
	l := &Log{store: store, opt: opt}
	table, records, next, err := l.load(true)
	if err != nil {
		return nil, err
	}
	l.table, l.records, l.next = table, records, next
	if opt.Follow {
		l.following, l.applied, l.progress = true, next, make(chan struct{})
		if opt.OnChange != nil {
			for _, k := range sortedKeys(table) {
				opt.OnChange(k, table[k], false)
			}
		}
		l.startTailLocked()
		return l, nil
	}
	if l.records > 2*len(l.table)+16 {
		if err := l.Compact(ctx); err != nil {
			return nil, err
		}
	}
	l.timer = time.AfterFunc(opt.CompactInterval, l.tick)
	return l, nil
}

// load replays the queue from its min offset into a fresh table and
// returns it with the number of records read and the offset after the
// last. A min offset that moves meanwhile (a compaction on this store)
// restarts it from the new min. strict fails on a record that does not
// decode; otherwise it is logged and skipped.
func (l *Log) load(strict bool) (table map[string][]byte, records int, next int64, err error) {
	for {
		off, err := l.store.MinOffset(l.opt.Topic, 0)
		if errors.Is(err, storage.ErrQueueNotFound) {
			return map[string][]byte{}, 0, 0, nil
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("kvlog: %s: %w", l.opt.Topic, err)
		}
		table, records = map[string][]byte{}, 0
		next, err = l.read(off, func(e storage.ReadEntry) error {
			op, key, value, err := decode(e.Payload)
			if err != nil {
				return l.corrupt(strict, e.QueueOffset, err)
			}
			records++
			applyOp(table, op, key, value)
			return nil
		})
		var oe *storage.OffsetError
		if errors.As(err, &oe) {
			continue // the min offset moved: start again from it
		}
		if err != nil {
			return nil, 0, 0, err
		}
		return table, records, next, nil
	}
}

// read calls fn for each entry from off to the queue's current end and
// returns the offset after the last one. An *storage.OffsetError comes
// back unwrapped when off is outside the queue.
func (l *Log) read(off int64, fn func(storage.ReadEntry) error) (int64, error) {
	for {
		res, err := l.store.Read(l.opt.Topic, 0, off, storage.ReadOptions{MaxBytes: readChunk})
		var oe *storage.OffsetError
		if errors.As(err, &oe) {
			return off, oe
		}
		if errors.Is(err, storage.ErrQueueNotFound) {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("kvlog: replay %s at %d: %w", l.opt.Topic, off, err)
		}
		for _, e := range res.Entries {
			if err := fn(e); err != nil {
				res.Release()
				return off, err
			}
		}
		next := res.NextOffset
		res.Release()
		if next == off || next >= res.MaxOffset {
			return next, nil
		}
		off = next
	}
}

// corrupt reports a record that does not decode: an error when strict
// (Open), else logged and skipped (a follower cannot refuse the master's
// records).
func (l *Log) corrupt(strict bool, off int64, err error) error {
	if strict {
		return fmt.Errorf("kvlog: replay %s at %d: %w", l.opt.Topic, off, err)
	}
	l.opt.Logger.Error("kvlog: skipping a record that does not decode", "topic", l.opt.Topic, "offset", off, "err", err)
	return nil
}

// applyOp applies one decoded record to table, copying value.
func applyOp(table map[string][]byte, op byte, key string, value []byte) {
	if op == opDelete {
		delete(table, key)
		return
	}
	table[key] = append([]byte(nil), value...)
}

func encode(op byte, key string, value []byte) []byte {
	b := make([]byte, 0, headerSize+len(key)+len(value))
	b = append(b, recordVersion, op)
	b = binary.BigEndian.AppendUint16(b, uint16(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

func decode(b []byte) (op byte, key string, value []byte, err error) {
	if len(b) < headerSize || b[0] != recordVersion || (b[1] != opPut && b[1] != opDelete) {
		return 0, "", nil, ErrCorrupt
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if headerSize+n > len(b) {
		return 0, "", nil, ErrCorrupt
	}
	return b[1], string(b[headerSize : headerSize+n]), b[headerSize+n:], nil
}

// Get returns a copy of key's value.
func (l *Log) Get(key string) ([]byte, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.table[key]
	return append([]byte(nil), v...), ok
}

// Snapshot returns a copy of the table.
func (l *Log) Snapshot() map[string][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]byte, len(l.table))
	for k, v := range l.table {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

// Put stores key = value durably (as the store's flush mode promises)
// before returning.
func (l *Log) Put(ctx context.Context, key string, value []byte) error {
	return l.write(ctx, opPut, key, value)
}

// Delete removes key.
func (l *Log) Delete(ctx context.Context, key string) error {
	return l.write(ctx, opDelete, key, nil)
}

func (l *Log) write(ctx context.Context, op byte, key string, value []byte) error {
	if key == "" || len(key) > maxKeyLen {
		return fmt.Errorf("kvlog: %q: %w", key, ErrKey)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if _, err := l.appendLocked(ctx, [][]byte{encode(op, key, value)}); err != nil {
		return err
	}
	l.records++
	applyOp(l.table, op, key, value)
	return nil
}

// writableLocked refuses writes to a closed Log or a follower.
func (l *Log) writableLocked() error {
	switch {
	case l.closed:
		return ErrClosed
	case l.following:
		return fmt.Errorf("kvlog: %s: %w", l.opt.Topic, ErrFollower)
	}
	return nil
}

// appendLocked appends records and waits until the last one is visible to
// readers, so a following SetMinOffset or replay sees it. It returns the
// first record's offset.
func (l *Log) appendLocked(ctx context.Context, recs [][]byte) (int64, error) {
	entries := make([]storage.Entry, len(recs))
	for i, r := range recs {
		entries[i] = storage.Entry{Kind: storage.KindInternal, Topic: l.opt.Topic, Count: 1, Payload: r}
	}
	pos, err := l.store.Append(ctx, entries)
	if err != nil {
		return 0, fmt.Errorf("kvlog: append %s: %w", l.opt.Topic, err)
	}
	last := pos[len(pos)-1].QueueOffset
	if err := WaitVisible(ctx, l.store, l.opt.Topic, 0, last); err != nil {
		return 0, fmt.Errorf("kvlog: %s: %w", l.opt.Topic, err)
	}
	return pos[0].QueueOffset, nil
}

// Compact rewrites every live key and drops the older records.
func (l *Log) Compact(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.writableLocked(); err != nil {
		return err
	}
	if len(l.table) == 0 {
		return l.dropAllLocked()
	}
	recs := make([][]byte, 0, len(l.table))
	for _, k := range sortedKeys(l.table) {
		recs = append(recs, encode(opPut, k, l.table[k]))
	}
	first, err := l.appendLocked(ctx, recs)
	if err != nil {
		return err
	}
	if err := l.store.SetMinOffset(l.opt.Topic, 0, first); err != nil {
		return fmt.Errorf("kvlog: compact %s: %w", l.opt.Topic, err)
	}
	l.records = len(recs)
	return nil
}

// dropAllLocked moves the min offset to the end when nothing is live.
func (l *Log) dropAllLocked() error {
	max, err := l.store.MaxOffset(l.opt.Topic, 0)
	if errors.Is(err, storage.ErrQueueNotFound) {
		return nil
	}
	if err == nil {
		err = l.store.SetMinOffset(l.opt.Topic, 0, max)
	}
	if err != nil {
		return fmt.Errorf("kvlog: compact %s: %w", l.opt.Topic, err)
	}
	l.records = 0
	return nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tick is the periodic compaction, on its timer's goroutine.
func (l *Log) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.Compact(ctx); err != nil && !errors.Is(err, ErrClosed) {
		l.opt.Logger.Error("kvlog: compaction failed", "topic", l.opt.Topic, "err", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.timer.Reset(l.opt.CompactInterval)
	}
}

// Close stops compaction, or a follower's tail (waiting for it to
// return). The store stays open.
func (l *Log) Close() {
	l.mu.Lock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
	}
	stop, done := l.stop, l.done
	l.stop = nil
	l.mu.Unlock()
	if stop != nil {
		close(stop)
	}
	if done != nil {
		<-done
	}
	l.mu.Lock()
	l.progressedLocked()
	l.mu.Unlock()
}

// WaitVisible blocks until (topic, queue) holds offset (its max offset is
// past it), or ctx ends: the log service's (broker/log.WaitVisible).
func WaitVisible(ctx context.Context, store *storage.Store, topic string, queue int32, offset int64) error {
	return log.WaitVisible(ctx, store, topic, queue, offset)
}
