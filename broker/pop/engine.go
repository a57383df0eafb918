package pop

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// Topic is the internal topic of the engine's state.
const Topic = "__twinmq_pop"

// Defaults of Options.
const (
	// DefaultMaxAttempts: RocketMQ's 16 retries after the first delivery
	// (subscriptionGroupConfig retryMaxTimes).
	DefaultMaxAttempts = 17
	// DefaultMaxInFlight bounds the locked records of one key, as
	// RocketMQ's popInflightMessageThreshold does: past it a group gets
	// no new records from the queue until some are acknowledged or
	// expire (and the state record of a key stays under 300 KiB).
	DefaultMaxInFlight = 10000
)

const secretKey = "secret"

// Options configures an Engine.
type Options struct {
	Logger      *slog.Logger
	Now         func() time.Time
	MaxAttempts int32
	MaxInFlight int
}

// Key names one POP queue.
type Key struct {
	Group, Topic string
	Queue        int32
}

func (k Key) kvKey() string {
	return "g/" + k.Group + "\x00" + k.Topic + "\x00" + strconv.Itoa(int(k.Queue))
}

// Engine is the durable driver of the Queues (package doc).
type Engine struct {
	kv     *kvlog.Log
	secret []byte
	opt    Options

	mu     sync.Mutex // guards queues (the map, not the entries)
	queues map[Key]*entry
	cfgMu  sync.Mutex // serializes SetGroupConfig's writes
}

// entry is one key's state; mu serializes its steps and their writes,
// so the kvlog records of a key come in step order. Lock order:
// Engine.mu, then entry.mu (never held together in practice).
type entry struct {
	mu sync.Mutex
	q  *Queue // nil until loaded
}

// Open replays the engine's state from store.
func Open(ctx context.Context, store *storage.Store, opt Options) (*Engine, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = DefaultMaxInFlight
	}
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: Topic, Logger: opt.Logger})
	if err != nil {
		return nil, fmt.Errorf("pop: %w", err)
	}
	e := &Engine{kv: kv, opt: opt, queues: map[Key]*entry{}}
	if s, ok := kv.Get(secretKey); ok && len(s) == 32 {
		e.secret = s
	} else {
		e.secret = make([]byte, 32)
		_, _ = rand.Read(e.secret)
		if err := kv.Put(ctx, secretKey, e.secret); err != nil {
			kv.Close()
			return nil, fmt.Errorf("pop: store the handle secret: %w", err)
		}
	}
	return e, nil
}

// Close stops the engine's compaction.
func (e *Engine) Close() { e.kv.Close() }

// MaxAttempts is the number of deliveries after which a record whose
// lock expires is dead-lettered.
func (e *Engine) MaxAttempts() int32 { return e.opt.MaxAttempts }

func (e *Engine) entry(k Key) *entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	en := e.queues[k]
	if en == nil {
		en = &entry{}
		e.queues[k] = en
	}
	return en
}

// loadLocked returns the key's queue, from the table or new from start.
func (e *Engine) loadLocked(k Key, en *entry, start func() (int64, error)) (*Queue, error) {
	if en.q != nil {
		return en.q, nil
	}
	if b, ok := e.kv.Get(k.kvKey()); ok {
		q, err := DecodeState(b)
		if err != nil {
			return nil, fmt.Errorf("pop: %s/%s/%d: %w", k.Group, k.Topic, k.Queue, err)
		}
		en.q = q
		return q, nil
	}
	if start == nil {
		return nil, fmt.Errorf("%w: no state for %s/%s/%d", ErrNotHeld, k.Group, k.Topic, k.Queue)
	}
	s, err := start()
	if err != nil {
		return nil, err
	}
	en.q = NewQueue(s)
	return en.q, nil
}

// persistLocked writes the key's state; on failure the in-memory state
// is dropped (reloaded from the last record written), so memory never
// claims what the log does not hold.
func (e *Engine) persistLocked(ctx context.Context, k Key, en *entry) error {
	if err := e.kv.Put(ctx, k.kvKey(), en.q.AppendState(nil)); err != nil {
		en.q = nil
		return fmt.Errorf("pop: persist %s/%s/%d: %w", k.Group, k.Topic, k.Queue, err)
	}
	return nil
}

func (e *Engine) nowMs() int64 { return e.opt.Now().UnixMilli() }

// Record is one record a Source hands the engine.
type Record[M any] struct {
	Offset int64
	Msg    M
	// Ordered marks an ordered (FIFO) message: see Queue.Blocked.
	Ordered bool
}

// Delivery is one acquired record.
type Delivery[M any] struct {
	Key    Key
	Offset int64
	Lock   Lock
	Msg    M
	// Handle is the receipt handle (handle.go) that names this lock.
	Handle string
}

// Source is how Acquire reads one queue, in the adapter's terms.
type Source[M any] struct {
	// Start is the offset a group new to the queue starts from.
	Start func() (int64, error)
	// Read returns the records to deliver from offset from on, at most
	// max of them, lowest first, and the offset after the last one it
	// examined: offsets below it that it did not return (filtered out)
	// are done for the group.
	Read func(from int64, max int) ([]Record[M], int64, error)
	// At returns the record at offset off for a redelivery; false when
	// it is gone (retention), and the engine counts it done.
	At func(off int64) (M, bool, error)
	// Dead dead-letters a record whose lock expired after its last
	// allowed delivery; the engine counts it done once Dead returns nil.
	Dead func(ctx context.Context, off int64, m M, attempts int32) error
	// MaxAttempts, if positive, replaces the engine's MaxAttempts for
	// this read (a Kafka share group's share.delivery.count.limit).
	MaxAttempts int32
	// Slack lets Read return up to this many records more than asked
	// (within MaxInFlight): a Kafka share fetch acquires whole record
	// batches (KIP-932's batch alignment), so a batch is not sent to
	// several consumers for a part each.
	Slack int
	// NoHandles leaves Delivery.Handle empty: a Kafka share group names
	// records by offset and keeps each lock's serial itself.
	NoHandles bool
}

// Acquire locks up to max records of k for invisible: first records
// whose locks expired (delivered again, or dead-lettered past
// MaxAttempts), then records not yet delivered. The state is written
// before Acquire returns.
func Acquire[M any](ctx context.Context, e *Engine, k Key, max int, invisible time.Duration, src Source[M]) ([]Delivery[M], error) {
	ds, _, err := SettleAndAcquire(ctx, e, k, nil, max, invisible, src)
	return ds, err
}

// SettleAndAcquire is Settle then Acquire as one step of k, with one
// write of the state: a Kafka share fetch's piggybacked acknowledgements
// and its acquisition. settleErr is the settlement's (then nothing of it
// applied; also when the write failed), err the acquisition's.
func SettleAndAcquire[M any](ctx context.Context, e *Engine, k Key, ops []Op, max int, invisible time.Duration,
	src Source[M]) (ds []Delivery[M], settleErr, err error) {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, src.Start)
	if err != nil {
		if len(ops) > 0 {
			settleErr = err
		}
		return nil, settleErr, err
	}
	settled := false
	if len(ops) > 0 {
		settleErr = q.Settle(ops, e.nowMs())
		settled = settleErr == nil
	}
	out, changed, aerr := acquireLocked(ctx, e, k, q, max, invisible, src)
	if changed || settled {
		if perr := e.persistLocked(ctx, k, en); perr != nil {
			if settled {
				settleErr = perr
			}
			// The deliveries are dropped: their locks expire as if the
			// consumer had died, nothing is lost.
			return nil, settleErr, errors.Join(aerr, perr)
		}
	}
	if aerr != nil && len(out) == 0 {
		return nil, settleErr, aerr
	}
	return out, settleErr, nil
}

// acquireLocked is Acquire's step on q; changed reports whether q must
// be written.
func acquireLocked[M any](ctx context.Context, e *Engine, k Key, q *Queue, max int, invisible time.Duration,
	src Source[M]) (out []Delivery[M], changed bool, err error) {
	if max <= 0 {
		return nil, false, nil
	}
	now, inv := e.nowMs(), invisible.Milliseconds()
	maxAttempts := e.opt.MaxAttempts
	if src.MaxAttempts > 0 {
		maxAttempts = src.MaxAttempts
	}
	for _, off := range q.Expired(now, max) {
		m, ok, err := src.At(off)
		if err != nil {
			return out, changed, err
		}
		if !ok {
			q.Done(off)
			changed = true
			continue
		}
		if q.InFlight[off].Attempts >= maxAttempts {
			if err := src.Dead(ctx, off, m, q.InFlight[off].Attempts); err != nil {
				return out, changed, err
			}
			q.Done(off)
			changed = true
			continue
		}
		l, err := q.Redeliver(off, now, inv)
		if err != nil {
			return out, changed, err
		}
		changed = true
		out = append(out, delivery(e, k, off, l, m, src.NoHandles))
	}
	if room := min(max-len(out), e.opt.MaxInFlight-len(q.InFlight)); room > 0 {
		recs, next, err := src.Read(q.Next, room)
		if err != nil {
			return out, changed, err
		}
		slack := 0
		if src.Slack > 0 {
			slack = src.Slack
		}
		if limit := min(room+slack, e.opt.MaxInFlight-len(q.InFlight)); len(recs) > limit {
			recs, next = recs[:limit], recs[limit].Offset
		}
		// While ordered records are locked, the read stops before the
		// next ordered one: it is delivered after them.
		blocked := q.Blocked()
		for i, r := range recs {
			if r.Ordered && blocked {
				recs, next = recs[:i], r.Offset
				break
			}
		}
		offs := make([]int64, len(recs))
		ordered := make([]bool, len(recs))
		for i, r := range recs {
			offs[i], ordered[i] = r.Offset, r.Ordered
		}
		if next > q.Next {
			locks := q.TakeOrdered(offs, ordered, next, now, inv)
			changed = true
			for i, r := range recs {
				if i < len(locks) {
					out = append(out, delivery(e, k, r.Offset, locks[i], r.Msg, src.NoHandles))
				}
			}
		}
	}
	return out, changed, nil
}

func delivery[M any](e *Engine, k Key, off int64, l Lock, m M, noHandle bool) Delivery[M] {
	d := Delivery[M]{Key: k, Offset: off, Lock: l, Msg: m}
	if !noHandle {
		d.Handle = EncodeHandle(e.secret, k.Group, k.Topic, Handle{Queue: k.Queue, Offset: off, Serial: l.Serial})
	}
	return d
}

// Decode checks a receipt handle sent for group and topic and returns
// the key and the handle it names.
func (e *Engine) Decode(group, topic, handle string) (Key, Handle, error) {
	h, err := DecodeHandle(e.secret, group, topic, handle)
	if err != nil {
		return Key{}, Handle{}, err
	}
	return Key{Group: group, Topic: topic, Queue: h.Queue}, h, nil
}

// Ack acknowledges the lock h names: ErrNotHeld or ErrLockExpired when
// it is not the record's live lock, and nothing changes.
func (e *Engine) Ack(ctx context.Context, k Key, h Handle) error {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, nil)
	if err != nil {
		return err
	}
	if err := q.Ack(h.Offset, h.Serial, e.nowMs()); err != nil {
		return err
	}
	return e.persistLocked(ctx, k, en)
}

// Change gives the lock h names a new invisible time from now and
// returns the new lock and its receipt handle (the old one stops
// working); invisible 0 makes the record deliverable at once.
func (e *Engine) Change(ctx context.Context, k Key, h Handle, invisible time.Duration) (Lock, string, error) {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, nil)
	if err != nil {
		return Lock{}, "", err
	}
	l, err := q.Change(h.Offset, h.Serial, e.nowMs(), invisible.Milliseconds())
	if err != nil {
		return Lock{}, "", err
	}
	if err := e.persistLocked(ctx, k, en); err != nil {
		return Lock{}, "", err
	}
	h.Serial = l.Serial
	return l, EncodeHandle(e.secret, k.Group, k.Topic, h), nil
}

// Dead dead-letters the record h names at once (a consumer's
// ForwardMessageToDeadLetterQueue): dead is called under the key's lock
// with the record's attempts, and the record is done once it returns nil.
func (e *Engine) Dead(ctx context.Context, k Key, h Handle, dead func(attempts int32) error) error {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, nil)
	if err != nil {
		return err
	}
	l, err := q.check(h.Offset, h.Serial, e.nowMs())
	if err != nil {
		return err
	}
	if err := dead(l.Attempts); err != nil {
		return err
	}
	q.Done(h.Offset)
	return e.persistLocked(ctx, k, en)
}

// Status is what a long poll waits on: the next offset not yet
// delivered, and the earliest lock deadline (ok false: none in flight).
type Status struct {
	Next, Acked  int64
	InFlight     int
	NextDeadline int64
	HasDeadline  bool
}

// Status returns k's state; a key never acquired reports ok false.
func (e *Engine) Status(k Key) (Status, bool) {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, nil)
	if err != nil {
		return Status{}, false
	}
	d, has := q.NextDeadline()
	return Status{Next: q.Next, Acked: q.Acked, InFlight: len(q.InFlight), NextDeadline: d, HasDeadline: has}, true
}

// MaxInFlight is the bound of locked records per key.
func (e *Engine) MaxInFlight() int { return e.opt.MaxInFlight }
