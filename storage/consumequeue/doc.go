// Package consumequeue implements RocketMQ's ConsumeQueue: per (topic,
// queue) a dense sequence of fixed-size units, one per logical offset (the
// Kafka offset and the RocketMQ queue offset), each pointing at the
// CommitLog entry that holds the record. The records of one stored Kafka
// batch get one unit each, all pointing at the same entry.
//
// A ConsumeQueue is derived data: the store rebuilds it from the CommitLog
// on recovery, so this package is a fast, robust container and never the
// source of truth. Anything it cannot trust at Open is an error wrapping
// ErrCorrupt that names the file and byte position, so the store can drop
// the queue and re-dispatch.
//
// # On-disk layout, format version 1
//
// A queue is one directory (the store uses consumequeue/<topic>/<queueId>/)
// of files of UnitsPerFile units each (default 300,000 = 6,000,000 bytes),
// as in RocketMQ (ConsumeQueue.CQ_STORE_UNIT_SIZE = 20, MSG_TAG_OFFSET_INDEX
// = 12). A file is named by the 20-digit zero-padded decimal BYTE offset of
// its first unit in the logical queue (offset*20), so logical offset n lives
// in file n/UnitsPerFile at byte (n%UnitsPerFile)*20. All integers are
// big-endian. The files carry no magic and no version number: the store's
// FORMAT file ("twinmq-store 1", and 2, which changed nothing here)
// versions them with its directory, and FormatVersion names this layout
// in code.
//
//	consumequeue/<topic>/<queueId>/
//	  00000000000000000000   units [0, U)
//	  00000000000006000000   units [U, 2U)      (U = 300,000)
//	  ...
//
//	unit (20 bytes):
//	+------------------------+-------------+------------------------+
//	| commitLogOffset int64  | size int32  | tagsCode int64         |
//	+------------------------+-------------+------------------------+
//	 0                        8             12                      20
//
//	commitLogOffset  position of the CommitLog entry (>= 0)
//	size             length of that entry (> 0)
//	tagsCode         Java String.hashCode of the TAGS property, sign-extended
//	                 (0 without tags); for SCHEDULE_TOPIC_XXXX the delivery
//	                 time in ms
//
//	blank unit:      commitLogOffset 0, size 0x7fffffff, tagsCode 0
//
// A queue may start mid-file (after retention or a rebuild that starts past
// 0): the units of its first file before the minimum offset are blank units,
// as RocketMQ's fillPreBlank writes them. The minimum offset is the first
// non-blank unit; the maximum offset (the next offset to write, RocketMQ's
// maxOffset) is just after the last valid unit. An empty queue keeps its
// position in the file holding its maximum offset, all blank units, or
// empty when the maximum starts a file: a queue never loses its last file
// (SetMinOffset, Reset), or it would reopen empty at 0 and hand its
// offsets out again. A unit is invalid when its
// size is <= 0 or its commitLogOffset is negative; an all-zero unit (never
// written) is invalid, and so is a torn partial unit at the end of a file.
// Files grow as units are written; they are not preallocated. Appends only
// ever write past a file's synced size (truncation shrinks the file rather
// than zeroing it), so a power loss leaves at most a torn tail, never a mix
// of old and new units. Units still in the tail page (below) when the
// process dies are lost, as unsynced ones are; the store re-dispatches
// them.
//
// # Recovery at Open
//
// Open checks that the file names are aligned, contiguous 20-digit offsets
// (a gap is ErrCorrupt naming the missing file), fully scans the last two
// files and checks that every earlier file is full with a valid last unit.
// The queue ends at the first invalid unit: the file holding it is
// truncated there and later files are removed, durably, so that a later
// append can never join stale units to the queue. Commit-log offsets are
// assumed non-decreasing (the dispatcher writes them in CommitLog order);
// TruncateAfterCommitLogOffset and DeleteBeforeCommitLogOffset binary-search
// on that assumption.
//
// # Concurrency and memory ordering
//
// One writer goroutine (the store's dispatcher) calls Append, Truncate...,
// SetMinOffset, DeleteBeforeCommitLogOffset and Flush; any number of readers
// call Get, Read, MinOffset, MaxOffset and SearchOffset concurrently.
//
//   - The file list is an immutable snapshot behind an atomic pointer. The
//     writer publishes a new snapshot before it writes into a new file.
//   - Append puts its units in the tail page, an in-memory page of up to
//     pendingUnits (256) units that reaches the file in one WriteAt when
//     it fills, at Flush, and before a truncation or a new minimum (a
//     queue of single messages costs one pwrite per page, not one per
//     message), and only then stores MaxOffset (an atomic). A reader loads
//     MaxOffset before it reads a unit, from the tail page when the unit
//     is in it and from the file's view otherwise, so every unit below the
//     MaxOffset it saw was written before (sequentially consistent atomics
//     give the happens-before edge; on the OS the pwrite is visible in the
//     MAP_SHARED view through the page cache). A tail page is written out
//     before it is retired and is never reused, so bytes a reader can see
//     never change.
//   - Readers hold q.mu (a sync.RWMutex) for reading while they touch a
//     view, for a few nanoseconds and never across a callback. The writer
//     takes it for writing only to change bytes readers may already be
//     reading (blanking units below a new minimum, shrinking a truncated
//     file) and to unmap and close removed files. So a removed file's view
//     is unmapped as soon as it is removed (its disk space is freed), never
//     under a reader. Lock order: q.mu is the only lock.
package consumequeue
