package delay

import (
	"encoding/binary"
	"fmt"

	"github.com/twinmq/twinmq/storage"
)

// ProgressTopic holds the delivery progress of the delay levels (RocketMQ
// keeps it in config/delayOffset.json; twinmq keeps it in the CommitLog,
// docs/design.md section 3).
const ProgressTopic = "__twinmq_delay_progress"

// Progress record layout, version 1: one storage.KindInternal entry of
// queue 0 of ProgressTopic.
//
//	+---------+---------+-------------+--------------------------------+
//	| version | flags   | count       | count x (level, next)          |
//	| uint8=1 | uint8   | uint16 (BE) | uint16 (BE), int64 (BE)        |
//	+---------+---------+-------------+--------------------------------+
//	 flags bit 0: snapshot (every level with progress is listed)
//
// next is the first offset of the level's queue not yet delivered. A
// delivery appends its re-stored messages and one record naming its level
// in the same Append, so the record is never durable without the messages
// before it. Replay keeps the last value of each level.
const (
	progressVersion  = 1
	progressSnapshot = 1 << 0
	progressHeader   = 4
	progressItem     = 10
)

func appendProgress(dst []byte, snapshot bool, next map[int]int64, levels int) []byte {
	var flags byte
	if snapshot {
		flags = progressSnapshot
	}
	n := 0
	for lvl := 1; lvl <= levels; lvl++ {
		if _, ok := next[lvl]; ok {
			n++
		}
	}
	dst = append(dst, progressVersion, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	for lvl := 1; lvl <= levels; lvl++ {
		if v, ok := next[lvl]; ok {
			dst = binary.BigEndian.AppendUint16(dst, uint16(lvl))
			dst = binary.BigEndian.AppendUint64(dst, uint64(v))
		}
	}
	return dst
}

// decodeProgress applies one record to next.
func decodeProgress(b []byte, next map[int]int64) error {
	if len(b) < progressHeader || b[0] != progressVersion {
		return fmt.Errorf("%w: progress record header", ErrCorruptProgress)
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if len(b) != progressHeader+n*progressItem {
		return fmt.Errorf("%w: %d items in %d bytes", ErrCorruptProgress, n, len(b))
	}
	for i := range n {
		p := b[progressHeader+i*progressItem:]
		lvl := int(binary.BigEndian.Uint16(p))
		v := int64(binary.BigEndian.Uint64(p[2:]))
		if lvl < 1 || v < 0 {
			return fmt.Errorf("%w: level %d next %d", ErrCorruptProgress, lvl, v)
		}
		next[lvl] = max(next[lvl], v)
	}
	return nil
}

func progressEntry(payload []byte) storage.Entry {
	return storage.Entry{Kind: storage.KindInternal, Topic: ProgressTopic, Count: 1, Payload: payload}
}

// replayProgress rebuilds the progress table from ProgressTopic. A corrupt
// record is skipped: at worst its level redelivers (at-least-once).
func replayProgress(store *storage.Store, warn func(string, ...any)) (map[int]int64, int, error) {
	next := map[int]int64{}
	records := 0
	_, err := store.Replay(ProgressTopic, 0, 0, func(e storage.ReadEntry) error {
		records++
		if err := decodeProgress(e.Payload, next); err != nil {
			warn("delay: skipping progress record", "offset", e.QueueOffset, "err", err)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("delay: replay %s: %w", ProgressTopic, err)
	}
	return next, records, nil
}
