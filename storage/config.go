package storage

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

// FlushDiskType says when an append is acknowledged (RocketMQ's flushDiskType).
type FlushDiskType string

const (
	// AsyncFlush acknowledges an append once it is written to the page cache;
	// a flusher fsyncs every FlushInterval. A power loss can drop at most the
	// appends of the last FlushInterval (plus the fsync in progress).
	AsyncFlush FlushDiskType = "ASYNC_FLUSH"
	// SyncFlush acknowledges an append only after an fsync covering it (group
	// commit: one fsync acknowledges every append that waited for it).
	SyncFlush FlushDiskType = "SYNC_FLUSH"
)

// DefaultRetentionHours is RetentionHours' default, RocketMQ's
// fileReservedTime (Kafka's log.retention.hours is 168).
const DefaultRetentionHours = 72

// DefaultDiskReserveBytes is DiskReserveBytes' default: room for the
// ConsumeQueue units, index entries and checkpoints of what was appended
// before the guard noticed, and for a segment roll.
const DefaultDiskReserveBytes = 64 << 20

// Config configures a Store. The zero value of every field but Dir has a
// working default, filled by validate.
type Config struct {
	// Dir is the data directory (created if missing).
	Dir string
	// FS is the file system; vfs.Default() when nil.
	FS vfs.FS
	// Logger receives recovery and retention reports; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for store timestamps and retention; time.Now when nil.
	Now func() time.Time

	// SegmentSize is the CommitLog segment size in bytes (default 1 GiB).
	SegmentSize int64
	// FlushDiskType is ASYNC_FLUSH (default) or SYNC_FLUSH.
	FlushDiskType FlushDiskType
	// FlushInterval is the ASYNC_FLUSH flush period (default 500 ms).
	FlushInterval time.Duration
	// CheckpointInterval is how often derived data is flushed and the
	// checkpoint written (default 1 s).
	CheckpointInterval time.Duration

	// ConsumeQueueUnits is the number of 20-byte units per ConsumeQueue file
	// (default 300,000, as RocketMQ).
	ConsumeQueueUnits int
	// IndexSlots and IndexEntries size each IndexFile (defaults 500,000 and
	// 2,000,000).
	IndexSlots   int
	IndexEntries int

	// RetentionHours deletes CommitLog segments whose last write is older
	// (default 72, as RocketMQ's fileReservedTime; 0 after validate means the
	// default, negative disables).
	RetentionHours int
	// RetentionBytes deletes the oldest segments while the CommitLog is
	// larger (default -1: unlimited).
	RetentionBytes int64
	// RetentionCheckInterval is how often retention runs (default 1 min).
	RetentionCheckInterval time.Duration

	// ZeroAhead keeps this many zero bytes written past the CommitLog's end
	// so fdatasync flushes data only (default 1 MiB; -1 disables). In
	// ASYNC_FLUSH, where appends store through the segment's mapping into
	// those zeros, at least 4 MiB in aligned 2 MiB pieces; -1 there makes
	// every append a pwrite again.
	ZeroAhead int64
	// MappedMinUnflushed is how many unflushed CommitLog bytes make
	// ASYNC_FLUSH appends store through the mapping instead of pwrite
	// (0: 2 MiB; negative: always, as the tests do). Below it a trickle of
	// appends dirties only the blocks it writes.
	MappedMinUnflushed int64
	// ResidentSegments bounds the sealed CommitLog segments whose pages
	// stay in the broker's resident set (the active one always does):
	// older ones read since are evicted after each flush, back to the
	// page cache, which the kernel may reclaim. Default 2; -1 keeps every
	// segment resident (resident memory then grows with what was
	// written and read since start).
	ResidentSegments int

	// DiskReserveBytes is the free space below which appends are refused
	// (ErrNoSpace, which the adapters answer with a retriable error) so
	// that a full disk never fails the derived data or the checkpoint:
	// default 64 MiB, -1 disables. The free space is read at every
	// checkpoint (CheckpointInterval), so appends resume by themselves at
	// most that long after space returns. Only on file systems that
	// report their space (vfs.SpaceReporter).
	DiskReserveBytes int64

	// MaxEntrySize bounds one CommitLog entry (header and payload); default
	// 16 MiB. Protocol limits (1 MiB Kafka messages, 4 MiB RocketMQ) are
	// enforced by the adapters, below this.
	MaxEntrySize int
}

func (c *Config) validate() error {
	if c.Dir == "" {
		return fmt.Errorf("storage: config: Dir is empty")
	}
	if c.FS == nil {
		c.FS = vfs.Default()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = 1 << 30
	}
	if c.ZeroAhead == 0 {
		c.ZeroAhead = 1 << 20
	}
	if c.ResidentSegments == 0 {
		c.ResidentSegments = 2
	}
	if c.MaxEntrySize == 0 {
		c.MaxEntrySize = 16 << 20
	}
	if c.DiskReserveBytes == 0 {
		c.DiskReserveBytes = DefaultDiskReserveBytes
	}
	if c.SegmentSize < 4096 {
		return fmt.Errorf("storage: config: SegmentSize %d below 4096", c.SegmentSize)
	}
	if int64(c.MaxEntrySize)+8 > c.SegmentSize {
		c.MaxEntrySize = int(c.SegmentSize - 8)
	}
	switch c.FlushDiskType {
	case "":
		c.FlushDiskType = AsyncFlush
	case AsyncFlush, SyncFlush:
	default:
		return fmt.Errorf("storage: config: flushDiskType %q is neither ASYNC_FLUSH nor SYNC_FLUSH", c.FlushDiskType)
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 500 * time.Millisecond
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = time.Second
	}
	if c.ConsumeQueueUnits <= 0 {
		c.ConsumeQueueUnits = 300_000
	}
	if c.IndexSlots <= 0 {
		c.IndexSlots = 500_000
	}
	if c.IndexEntries <= 0 {
		c.IndexEntries = 2_000_000
	}
	if c.RetentionHours == 0 {
		c.RetentionHours = DefaultRetentionHours
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = -1
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = time.Minute
	}
	return nil
}
