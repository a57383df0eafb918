package pop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// OpKind is what a consumer does with a record it holds: KIP-932's
// acknowledge types (ShareAcknowledge AcknowledgeTypes) over the POP
// lock, so a Kafka share group settles records of the same state a
// RocketMQ SimpleConsumer group does.
type OpKind uint8

const (
	// OpAccept: the record was processed; it is done for the group.
	OpAccept OpKind = iota + 1
	// OpRelease: give the record back; it is deliverable again at once,
	// and its next delivery counts one more.
	OpRelease
	// OpReject: the record cannot be processed; it is done for the group
	// (Kafka archives it; nothing is dead-lettered).
	OpReject
	// OpRenew: keep holding the record for another lock duration
	// (KIP-1222); the lock keeps its serial.
	OpRenew
)

// Op is one settlement of a held record: the lock (Serial) must be the
// record's live one.
type Op struct {
	Offset int64
	Serial uint32
	Kind   OpKind
	// Invisible is OpRenew's new lock duration (ms).
	Invisible int64
}

// ErrDuplicateOp: two settlements of one offset in one step.
var ErrDuplicateOp = errors.New("pop: offset settled twice in one request")

// Settle applies ops as one step: every op's lock is checked first, and
// if one fails (ErrNotHeld, ErrLockExpired, ErrDuplicateOp) nothing
// changes, so a consumer never settles a record it was not given.
func (q *Queue) Settle(ops []Op, now int64) error {
	seen := make(map[int64]bool, len(ops))
	for _, op := range ops {
		if seen[op.Offset] {
			return fmt.Errorf("%w: offset %d", ErrDuplicateOp, op.Offset)
		}
		seen[op.Offset] = true
		if op.Kind < OpAccept || op.Kind > OpRenew {
			return fmt.Errorf("pop: settle kind %d", op.Kind)
		}
		if _, err := q.check(op.Offset, op.Serial, now); err != nil {
			return err
		}
	}
	for _, op := range ops {
		l := q.InFlight[op.Offset]
		switch op.Kind {
		case OpAccept, OpReject:
			delete(q.InFlight, op.Offset)
		case OpRelease:
			// Deliverable at once; a new serial so the old holder's
			// later settlements fail.
			l.Deadline, l.Serial = now, q.nextSerial()
			q.InFlight[op.Offset] = l
		case OpRenew:
			l.Deadline = now + op.Invisible
			q.InFlight[op.Offset] = l
		}
	}
	q.advance()
	return nil
}

// Settle applies ops to k's queue as one step (Queue.Settle) and writes
// the state once.
func (e *Engine) Settle(ctx context.Context, k Key, ops []Op) error {
	if len(ops) == 0 {
		return nil
	}
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	q, err := e.loadLocked(k, en, nil)
	if err != nil {
		return err
	}
	if err := q.Settle(ops, e.nowMs()); err != nil {
		return err
	}
	return e.persistLocked(ctx, k, en)
}

// Reset starts k's queue over at start: nothing is in flight, offsets
// below start are done and the rest deliverable (Kafka's
// AlterShareGroupOffsets, for a group with no members).
func (e *Engine) Reset(ctx context.Context, k Key, start int64) error {
	if start < 0 {
		return fmt.Errorf("pop: reset %s/%s/%d to %d", k.Group, k.Topic, k.Queue, start)
	}
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	prev := en.q
	en.q = NewQueue(start)
	if prev != nil {
		en.q.serial = prev.serial // serials never repeat for a key
	}
	return e.persistLocked(ctx, k, en)
}

// Forget deletes k's state: a group that comes back to the queue starts
// anew (Kafka's DeleteShareGroupOffsets).
func (e *Engine) Forget(ctx context.Context, k Key) error {
	en := e.entry(k)
	en.mu.Lock()
	defer en.mu.Unlock()
	if err := e.kv.Delete(ctx, k.kvKey()); err != nil {
		return fmt.Errorf("pop: forget %s/%s/%d: %w", k.Group, k.Topic, k.Queue, err)
	}
	en.q = nil
	return nil
}

// Keys returns the keys of group that have state, sorted.
func (e *Engine) Keys(group string) []Key {
	var out []Key
	prefix := "g/" + group + "\x00"
	for name := range e.kv.Snapshot() {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		topic, q, ok := strings.Cut(rest, "\x00")
		n, err := strconv.ParseInt(q, 10, 32)
		if !ok || err != nil {
			continue
		}
		out = append(out, Key{Group: group, Topic: topic, Queue: int32(n)})
	}
	slices.SortFunc(out, func(a, b Key) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Queue - b.Queue)
	})
	return out
}

// Groups returns every group with state or a config, sorted.
func (e *Engine) Groups() []string {
	set := map[string]bool{}
	for name := range e.kv.Snapshot() {
		if rest, ok := strings.CutPrefix(name, "g/"); ok {
			g, _, _ := strings.Cut(rest, "\x00")
			set[g] = true
		} else if g, ok := strings.CutPrefix(name, configPrefix); ok {
			set[g] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// configPrefix names a group's configs in the table (Kafka's GROUP
// config resource: share.record.lock.duration.ms and friends).
const configPrefix = "c/"

// GroupConfig returns the configs set on group (name to value).
func (e *Engine) GroupConfig(group string) map[string]string {
	b, _ := e.kv.Get(configPrefix + group)
	return decodeGroupConfig(b)
}

// SetGroupConfig replaces group's configs (an empty map deletes them).
// A name with '=' or a newline, or a value with a newline, is refused.
func (e *Engine) SetGroupConfig(ctx context.Context, group string, cfg map[string]string) error {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	if len(cfg) == 0 {
		return e.kv.Delete(ctx, configPrefix+group)
	}
	b, err := appendGroupConfig(nil, cfg)
	if err != nil {
		return err
	}
	if err := e.kv.Put(ctx, configPrefix+group, b); err != nil {
		return fmt.Errorf("pop: group config of %s: %w", group, err)
	}
	return nil
}

// appendGroupConfig appends cfg as "name=value\n" lines, sorted by name.
func appendGroupConfig(dst []byte, cfg map[string]string) ([]byte, error) {
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		if k == "" || strings.ContainsAny(k, "=\n") || strings.Contains(cfg[k], "\n") {
			return nil, fmt.Errorf("pop: group config %q", k)
		}
		dst = append(dst, k+"="+cfg[k]+"\n"...)
	}
	return dst, nil
}

// decodeGroupConfig reads appendGroupConfig's lines; a line without '='
// or with an empty name is skipped.
func decodeGroupConfig(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			out[k] = v
		}
	}
	return out
}
