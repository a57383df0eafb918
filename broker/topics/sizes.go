package topics

import (
	"errors"
	"fmt"
	"sync"

	"github.com/twinmq/twinmq/storage"
)

// Sizes tracks how many bytes each queue holds: the payload bytes of the
// entries between the queue's MinOffset and MaxOffset (a Kafka batch as
// stored, a RocketMQ message as stored), without the CommitLog's entry
// headers and the ConsumeQueue units. The shared CommitLog has no
// per-queue segments, so this is what a queue's "size" means here: Kafka
// DescribeLogDirs reports it and retention.bytes is enforced against it.
//
// A queue's size is counted once by reading its entries (mapped bytes, no
// copy) and then kept up to date by reading only the entries appended
// since; when the start moves (retention, DeleteRecords, store retention)
// the dropped bytes are subtracted if known, else the queue is recounted.
// An entry that straddles the start (DeleteRecords into a Kafka batch) is
// counted whole: its bytes are still stored.
//
// Sizes is safe for concurrent use; mu guards m and is held while a queue
// is counted, so a count is never done twice at once.
type Sizes struct {
	store *storage.Store
	stop  func()
	mu    sync.Mutex
	m     map[queueKey]queueSize
}

type queueKey struct {
	topic string
	queue int32
}

// queueSize is the byte count of [min, max).
type queueSize struct {
	min, max, bytes int64
}

// NewSizes counts the sizes of the queues of reg's topics in store; Close
// stops its watch on reg (a deleted topic's counts are forgotten).
func NewSizes(store *storage.Store, reg *Registry) *Sizes {
	s := &Sizes{store: store, m: map[queueKey]queueSize{}}
	s.stop = reg.Watch(func(c Config, deleted bool) {
		if deleted {
			s.forget(c.Name)
		}
	})
	return s
}

// Close stops watching the registry.
func (s *Sizes) Close() { s.stop() }

// Bytes returns the payload bytes a queue holds between its start and end
// (0 for a queue with nothing stored yet).
func (s *Sizes) Bytes(topic string, queue int32) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytesLocked(topic, queue)
}

func (s *Sizes) bytesLocked(topic string, queue int32) (int64, error) {
	k := queueKey{topic, queue}
	min, err := s.store.MinOffset(topic, queue)
	if errors.Is(err, storage.ErrQueueNotFound) {
		delete(s.m, k)
		return 0, nil // nothing stored yet
	}
	if err != nil {
		return 0, fmt.Errorf("topics: size of %s/%d: %w", topic, queue, err)
	}
	max, err := s.store.MaxOffset(topic, queue)
	if err != nil {
		return 0, fmt.Errorf("topics: size of %s/%d: %w", topic, queue, err)
	}
	c, ok := s.m[k]
	if !ok || c.min != min || c.max > max {
		c = queueSize{min: min, max: min} // count from the start
	}
	if c.max < max {
		err := scanEntries(s.store, topic, queue, c.max, max, c.max == min, func(e storage.ReadEntry) bool {
			c.bytes += int64(len(e.Payload))
			return true
		})
		if err != nil {
			return 0, fmt.Errorf("topics: size of %s/%d: %w", topic, queue, err)
		}
		c.max = max
	}
	s.m[k] = c
	return c.bytes, nil
}

// dropped records that a queue's start moved from min to newMin, dropping
// n bytes, so the next Bytes need not recount.
func (s *Sizes) droppedLocked(topic string, queue int32, min, newMin, n int64) {
	k := queueKey{topic, queue}
	c, ok := s.m[k]
	switch {
	case !ok:
	case c.min == min && c.max >= newMin:
		c.min, c.bytes = newMin, c.bytes-n
		s.m[k] = c
	default:
		delete(s.m, k)
	}
}

// forget drops the counts of a deleted topic.
func (s *Sizes) forget(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.m {
		if k.topic == topic {
			delete(s.m, k)
		}
	}
}

// scanEntries calls fn for each entry covering offsets in [from, to), in
// order, until fn returns false. An entry that starts before from (from
// inside a Kafka batch) is passed only when first is set.
func scanEntries(store *storage.Store, topic string, queue int32, from, to int64, first bool,
	fn func(e storage.ReadEntry) bool) error {
	for off := from; off < to; {
		res, err := store.Read(topic, queue, off, storage.ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			return err
		}
		next := res.NextOffset
		more := true
		for _, e := range res.Entries {
			if e.QueueOffset >= to {
				more = false
				break
			}
			if e.QueueOffset < from && !first {
				continue
			}
			if !fn(e) {
				more = false
				break
			}
		}
		res.Release()
		if !more || next <= off {
			return nil
		}
		off = next
	}
	return nil
}
