package storage

// Stats is what the store reports for monitoring.
type Stats struct {
	// WrittenOffset, FlushedOffset and DispatchedOffset are CommitLog
	// offsets: every byte below the first is written, below the second
	// durable, and every entry below the third is in its ConsumeQueue
	// (readable).
	WrittenOffset, FlushedOffset, DispatchedOffset int64
	// Flushes counts the flusher's passes: ASYNC_FLUSH intervals and
	// SYNC_FLUSH group commits.
	Flushes int64
	// Records counts the messages (Kafka records) made readable since
	// the store opened, recovered ones included.
	Records int64
	// Err is why the store refuses writes (a failed fsync), or nil.
	Err error
	// NoSpace says appends are refused for now: the disk is full or
	// below DiskReserveBytes (they resume by themselves).
	NoSpace bool
}

// Stats returns the store's current figures; it takes no lock.
func (s *Store) Stats() Stats {
	return Stats{
		WrittenOffset:    s.log.WrittenOffset(),
		FlushedOffset:    s.log.FlushedOffset(),
		DispatchedOffset: s.dispatched.Load(),
		Flushes:          s.flushes.Load(),
		Records:          s.records.Load(),
		Err:              s.log.Err(),
		NoSpace:          s.noSpace.Load(),
	}
}
