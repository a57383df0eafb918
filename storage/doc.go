// Package storage is twinmq's store: one RocketMQ-style CommitLog holding
// every entry of both protocols, the ConsumeQueues and the IndexFile
// derived from it, and the services that keep them in step. Store is the
// facade the broker uses: it appends Entries (Append), makes them
// readable (dispatch), acknowledges them by its flush mode, and reads them
// back by (topic, queue, logical offset), by CommitLog offset (ReadAt) or
// by key (QueryByKey), handing out mapped bytes without copies.
//
// It never interprets a payload (Kind says which protocol wrote an entry;
// Entry.Encode lets the protocol patch offsets into its own bytes under
// the append lock), never speaks a protocol or maps an error to a
// protocol's code, and never calls package os: all file I/O goes through
// vfs.FS, so the crash tests run the same code on an in-memory file system
// that can lose or tear whatever was not synced.
//
// # Pieces
//
//   - CommitLog (package commitlog): the source of truth, one append-only
//     log of fixed-size segments. Its package doc draws the entry layout.
//   - ConsumeQueue (package consumequeue): per (topic, queue) a dense
//     array of 20-byte units, one per logical offset (the Kafka offset,
//     the RocketMQ queue offset), each pointing at a CommitLog entry.
//   - IndexFile (package index): a hash index from "topic#key" (message
//     keys, unique ids) to CommitLog offsets, for QUERY_MESSAGE.
//   - dispatch (dispatch.go, RocketMQ's reput service): turns CommitLog
//     entries into units and index entries in log order, up to the visible
//     end, and fires the long polls parked with Notify (wait.go).
//   - flush (append.go): in ASYNC_FLUSH an fdatasync every FlushInterval;
//     in SYNC_FLUSH the group commit, which writes every queued append
//     with one Log.Append and acknowledges them all after one fdatasync.
//   - checkpoint (checkpoint.go): flush the CommitLog, then the
//     ConsumeQueues and the IndexFile, then record the dispatched offset
//     as the next recovery point; every CheckpointInterval, and at once
//     after DeleteTopic, SetMinOffset, retention, recovery and in Close.
//     The periodic one owns the derived data only to take the queues'
//     marks and dirty files and to write the checkpoint; the fsyncs run
//     in between without it (checkpointConcurrent), and it is dropped if
//     another checkpoint was written meanwhile.
//   - queue creation: a topic's ConsumeQueues are created, durably, when
//     the topic is (PrepareQueues, from broker/topics), not by the
//     dispatch of their first message; dispatch still creates a missing
//     one, whose directory entries become durable at the next checkpoint.
//   - retention (retention.go): delete whole CommitLog segments past the
//     retention age or size, oldest first, never the active one nor one
//     not yet dispatched, then move every queue's start past them.
//   - recovery (recover.go): at Open, cut the CommitLog's torn tail and
//     bring the derived data in line with it (below).
//   - topic deletion (DeleteTopic): a record in the CommitLog, which every
//     dispatch of the log, however late, turns into the removal of the
//     topic's queues (below).
//
// # Derived data and who owns it
//
// The ConsumeQueues and the IndexFile are derived data: anything they
// hold can be rebuilt from the CommitLog, and is trusted only as far as
// the CommitLog backs it.
//
//   - Readers see an entry once it is dispatched (Stats.DispatchedOffset).
//     The dispatcher goes up to the visible end: FlushedOffset in
//     SYNC_FLUSH, so a consumer never sees an entry a crash could take
//     back; WrittenOffset in ASYNC_FLUSH, where, as in RocketMQ, a
//     consumer may see an entry a power loss takes back (a process crash
//     does not: the page cache keeps it). ReadAt is bounded by the visible
//     end too, QueryByKey by the dispatched offset.
//   - On disk, derived data is never trusted past the checkpoint's
//     recovery offset R, and R is never past the durable CommitLog: R is
//     the dispatched offset when the checkpoint starts, and the CommitLog
//     is flushed after that, before the checkpoint is written. Above R a
//     ConsumeQueue file may hold units the OS wrote back early (a full
//     tail page) that point at CommitLog bytes a crash took back; recovery
//     cuts every queue and the index at R and re-dispatches from there.
//   - Dispatch turns a topic-deletion record into the removal of the
//     topic's queues (Topic deletion, below), wherever it starts.
//   - Whoever holds Store.dispatchMu owns every mutation of derived data:
//     ConsumeQueue appends, truncation and min offsets, index puts,
//     truncation and deletion, checkpoints, retention, and the dispatched
//     offset. That is the dispatcher goroutine while it serves each event
//     (a kick, its lazy tick, a checkpoint or retention tick, or an op
//     that DeleteTopic, SetMinOffset or EnforceRetention sent through
//     Store.do); a caller of DispatchNow, which takes it only if it is
//     free (TryLock) and dispatches on its own goroutine, saving an
//     appender that waits for its own entry two thread hand-offs; a
//     caller between HoldDispatch and ReleaseDispatch, which appends and
//     then dispatches its own entries (an event-loop Kafka produce; only
//     in ASYNC_FLUSH, since a SYNC_FLUSH append waits for the group
//     commit's fsync, which the dispatcher would then wait for too); Open
//     (recovery, before the goroutines start); and Close. Readers never
//     take it: a ConsumeQueue and the Index each have one writer, this
//     owner, and any number of readers.
//   - An ASYNC_FLUSH append wakes the dispatcher only when someone needs
//     its entry now (a long poll parked on its queue, no lazy tick armed,
//     or a backlog of lazyDispatchBytes, 256 KiB), and never under a
//     HoldDispatch (the release dispatches); otherwise the lazy tick
//     dispatches within lazyDispatchInterval (1 ms). A wake-up costs the
//     appender a futex call, about a third of an append.
//
// # Directory layout
//
//	<Dir>/
//	  FORMAT         "twinmq-store 2\n": the directory's format version
//	  lock           advisory lock (vfs.FS.Lock): one process per directory
//	  abort          exists while a Store has the directory open, and after a crash
//	  checkpoint     the recovery point (below); checkpoint.tmp while replaced
//	  commitlog/
//	    00000000000000000000              CommitLog segments, named by
//	    00000000001073741824              their first physical offset
//	  consumequeue/
//	    <topic>/<queueId>/
//	      00000000000000000000            ConsumeQueue files, named by the
//	      00000000000006000000            byte offset of their first unit
//	  index/
//	    00000000000000000000              IndexFiles, named by the first
//	                                      phyOffset they index (package index)
//
// A topic's directory name escapes '/', '%' and NUL bytes, and every byte
// of the names "." and "..", as %XX (two upper-case hex digits); queueId
// is decimal. Open refuses (ErrFormat) a FORMAT of another text, and a
// directory without FORMAT that holds anything but lock; a new directory
// gets FORMAT written atomically. FORMAT versions the directory layout
// and the ConsumeQueue files, which carry no version of their own, and
// what the CommitLog may hold; the CommitLog entry, the IndexFile and the
// checkpoint carry their own magic and version. None of these numbers
// ever changes: a new layout gets a new version.
//
//   - Version 1: the layout drawn here.
//   - Version 2: as 1, and the CommitLog may hold topic-deletion records
//     (below), which a version 1 binary would dispatch as the entries of
//     a queue -1. Every byte layout is unchanged (the records are
//     CommitLog entries of version 1). Open upgrades a version 1
//     directory by rewriting FORMAT, atomically, once recovery succeeded
//     and before anything appends; nothing else is rewritten.
//
// # Topic deletion
//
// A topic's entries stay in the shared CommitLog after DeleteTopic, until
// retention deletes their segments, and recovery rebuilds derived data
// from the CommitLog: from its first entry when the checkpoint is lost, or
// for a ConsumeQueue that is damaged or missing. Removing the queues and
// writing a checkpoint, all DeleteTopic did in format version 1, thus did
// not last: such a rebuild brought the deleted topic back, and a topic
// created again under the name (its offsets start at 0 again) served the
// old topic's records at offsets 0..n and skipped its own as already
// there. RocketMQ has the same hole (apache/rocketmq#1852: its reput
// rebuilds the ConsumeQueues of deleted topics); Kafka has none, since
// each partition has its own log, deleted with the topic, and KIP-516
// names topics by id.
//
// So a deletion is a record in the CommitLog, in log order with the
// entries: commitlog's Log.DeleteTopic appends it (KindInternal, the
// topic's name, queueId -1 = commitlog.DeletionQueueID, count 1, nothing
// else) and forgets the topic's next offsets under the append lock, so
// the topic's entries before it are the deleted topic's and those after
// it a new topic's. DeleteTopic makes the record durable, then dispatches
// it, which removes the topic's queues, and writes a checkpoint. Every
// dispatch that meets the record later, from any starting point, removes
// the queues then too (during the rebuild of step 7 below, only the
// queues being rebuilt). The record lives as long as its segment, and
// every entry it deletes is in that segment or an older one. QueryByKey
// returns only entries their queue still holds at their offset, so the
// IndexFile's keys of a deleted topic find nothing either. ReadAt still
// reads a deleted topic's entry by its CommitLog offset, as RocketMQ's
// VIEW_MESSAGE_BY_ID does. A version 1 directory holds no deletion
// records: topics deleted before its upgrade can still come back that
// way, as before.
//
// # ConsumeQueue unit, format version 1
//
// No magic or version on disk (FORMAT covers it; consumequeue.FormatVersion
// names it in code). Big-endian, as RocketMQ's CQ_STORE_UNIT_SIZE = 20:
//
//	+------------------------+-------------+------------------------+
//	| commitLogOffset int64  | size int32  | tagsCode int64         |
//	+------------------------+-------------+------------------------+
//	 0                        8             12                      20
//
//	commitLogOffset  physical offset of the CommitLog entry
//	size             that entry's whole length (its length field)
//	tagsCode         the entry's tags code for this record (Java
//	                 String.hashCode of TAGS; for SCHEDULE_TOPIC_XXXX the
//	                 delivery time in ms), 0 without tags
//	blank unit       commitLogOffset 0, size 0x7fffffff, tagsCode 0: the
//	                 units before a queue's start in its first file
//
// The records of one Kafka batch get one unit each, all with the same
// commitLogOffset and size. Unit n of a queue is at byte (n%U)*20 of the
// file named (n-n%U)*20, U = Config.ConsumeQueueUnits (default 300,000).
// Package consumequeue draws the rest: validity, torn tails, recovery.
//
// # IndexFile, format version 1
//
// Big-endian; magic "TWIX", version 1 (uint16); S slots and a capacity of
// E entries per file (Config.IndexSlots, IndexEntries: 500,000 and
// 2,000,000 by default), of which N are in use:
//
//	header, 64 bytes:
//	+--------+---------+----------+--------+---------+-------+
//	| "TWIX" | version | reserved | baseTs | beginTs | endTs |
//	|        | u16 = 1 | u16 = 0  | i64 ms | i64 ms  | i64 ms|
//	+--------+---------+----------+--------+---------+-------+
//	 0        4         6          8        16        24
//	+----------+--------+-------+----------+-------+-----------------+
//	| beginPhy | endPhy | S     | capacity | N     | crc32c [0,60)   |
//	| i64      | i64    | u32   | u32      | u32   | u32             |
//	+----------+--------+-------+----------+-------+-----------------+
//	 32         40       48      52         56      60                64
//
//	slot i (S x 4 bytes from byte 64): uint32, the newest entry whose
//	keyHash % S == i, 0 = none
//
//	entry k (1-based, 20 bytes at 64 + 4*S + 20*(k-1)):
//	+-------------+---------------+--------------+---------------+
//	| keyHash u32 | phyOffset i64 | timeDiff i32 | prevEntry u32 |
//	+-------------+---------------+--------------+---------------+
//	 0             4               12             16              20
//
// keyHash is FNV-1a 32 of "topic#key"; timeDiff is
// floor((storeTime-baseTs)/1000), in seconds; prevEntry chains the entries of one slot, newest
// to oldest, always below k. A file is exactly 64 + 4*S + 20*N bytes.
// Package index draws the rest: the header's fields, durability, Open.
//
// # Checkpoint, version 1
//
// Big-endian, written whole by a temp file (checkpoint.tmp), fsync,
// rename and directory fsync, so it is never torn:
//
//	+--------+---------+----------+---------+----------------+--------+
//	| "TQCP" | version | recovery | nQueues | queue records  | crc32c |
//	|        | u16 = 1 | i64      | u32     | (nQueues)      | u32    |
//	+--------+---------+----------+---------+----------------+--------+
//	 0        4         6          14        18               end-4   end
//
//	queue record, 22+L bytes, sorted by topic then queueId:
//	+--------------+-------+------------+-----------+-----------+
//	| topicLen u16 | topic | queueId i32| minOffset | maxOffset |
//	| = L          |       |            | i64       | i64       |
//	+--------------+-------+------------+-----------+-----------+
//	 0              2       2+L          6+L         14+L        22+L
//
// The CRC-32C (Castagnoli) covers every byte before it. recovery (R) is a
// CommitLog offset, an entry boundary, below which every entry is durable
// and dispatched and the ConsumeQueues and the IndexFile are durable;
// maxOffset is each queue's end at R and minOffset its logical start
// (moved by DeleteRecords and retention). The decoder refuses fewer than
// 22 bytes, another magic, another version (checked before the CRC), a
// CRC mismatch, a record that does not fit, trailing bytes and a negative
// R; an unreadable checkpoint costs a rebuild of all derived data from the
// start of the CommitLog (RecoveryReport.CheckpointError), not data.
//
// # Append
//
// Store.Append in ASYNC_FLUSH calls commitlog's Log.Append on the caller's
// goroutine and returns once the bytes are written (page cache or
// mapping). In SYNC_FLUSH it validates the entries first (a bad entry
// fails alone, not its group), queues them for the flusher, and returns
// once the group commit's fdatasync covers them, or ctx ends (the entries
// may still become durable). Invariants:
//
//   - Queue offsets advance before the write: Log.Append assigns each
//     entry its queue's next offsets while it encodes the batch, and
//     writes the batch last. This is safe only because every failure after
//     validation fails the log for good (ErrFailed, Stats.Err): no entry
//     is ever written past offsets a failed call consumed, and the next
//     Open takes each queue's next offset from its ConsumeQueue
//     (Log.SetQueueOffset), rebuilt from what the CommitLog holds. See the
//     commitlog package doc.
//   - A full disk does not fail the log: an append that meets ENOSPC is
//     undone and refused (ErrNoSpace), and so is every append while the
//     free space is below DiskReserveBytes; appends resume by themselves
//     when space returns (diskfull.go).
//   - A failed fsync (the flusher's, a group commit's, a checkpoint's) also
//     fails the log: later appends are refused rather than acknowledged on
//     a file whose dirty pages the kernel may have dropped.
//   - All entries of one Append get one store time, never below an
//     earlier Append's (also across a restart: recovery gives the log the
//     newest entry's), whatever the wall clock does, since OffsetForTime
//     binary-searches a queue on them; per queue, offsets are
//     consecutive in CommitLog order, so each ConsumeQueue's units are
//     appended in order with non-decreasing commitLogOffsets.
//   - An entry becomes readable only after it is written (ASYNC_FLUSH) or
//     durable (SYNC_FLUSH) and then dispatched; an acknowledged SYNC_FLUSH
//     entry is durable.
//
// # Recovery
//
// Recovery is a pure scan: it validates, truncates the torn tail, reports
// what it dropped and rebuilds derived data; it never repairs bytes in
// place. Open:
//
//  1. takes the lock and checks FORMAT;
//  2. notes whether the abort marker exists (an unclean shutdown), then
//     creates it and syncs the directory; Close removes it after its
//     final checkpoint. The marker is only reported: the steps below are
//     the same either way, and after a clean Close the checkpoint is at
//     the end of the log, so the scan finds nothing;
//  3. opens the CommitLog (names only) and the IndexFile (headers checked,
//     the newest file's torn tail dropped);
//  4. reads the checkpoint (R, and each queue's min and max at R); R is
//     raised to the CommitLog's first offset if retention passed it;
//  5. opens every ConsumeQueue and cuts it to units below R; marks for
//     rebuild a queue that is damaged (ErrCorrupt), shorter than the
//     checkpoint says, or missing with a non-zero max; applies the
//     checkpoint's min offset to the others, then moves their start past
//     the CommitLog's first offset: retention deletes segments before it
//     moves the queues' starts and writes its checkpoint, and a crash in
//     between must not leave a queue starting at an entry that is gone;
//  6. cuts the IndexFile to entries below R and drops its files below
//     the CommitLog's first offset, for the same reason;
//  7. rebuilds the marked queues by scanning the CommitLog from its start
//     to R (CRC-checked; their index entries are already there), then
//     gives each the checkpoint's min offset (records DeleteRecords
//     removed stay removed) and, when the CommitLog holds none of its
//     entries any more, its max offset (Reset), so no offset is handed
//     out twice. This reads the CommitLog before step 8 validated it,
//     which is safe: below R every entry was durable, and a segment file
//     damaged short since reads as ErrCorrupt (Open fails), never past
//     the file's end. The rebuild comes first because each queue is
//     appended in order: its units below R before those above;
//  8. scans the CommitLog from R to its end (commitlog's Log.Recover):
//     every entry is CRC-checked and dispatched; at the first one that is
//     not valid the log is truncated, durably, and the bytes dropped and
//     the reason go into RecoveryReport. An entry of another format
//     version, and an R past the end of its segment's file, stop Open
//     (ErrCorrupt) instead;
//  9. sets each queue's next offset from its ConsumeQueue, and the log's
//     last store time from the newest entry a queue points at, and writes
//     a fresh checkpoint.
//
// # Replication
//
// RocketMQ's classic HA: a replica receives the primary's CommitLog as a
// byte stream and writes it at exactly the same physical offsets; its
// ConsumeQueues and IndexFile come from its own dispatch of those bytes,
// as a primary's come from its appends. Package broker/ha moves the
// bytes; this package owns what they may be and where they go:
//   - Roles: SetReplica(true) makes the store a replica, which refuses
//     every local write with ErrReplica (Append on both flush paths,
//     DeleteTopic, SetMinOffset: the CommitLog checks the role under its
//     append lock, so a switch waits for the append under way), and
//     takes AppendReplica; a primary refuses AppendReplica with
//     ErrNotReplica. The role lives in memory (a store opens as a
//     primary) and may switch at any time: a failover promotes a
//     replica, whose queues continue where the replicated entries left
//     them, since AppendReplica advances each queue's next offset and the
//     store time exactly as Append would. Retention runs on a replica as
//     on a primary.
//   - The stream: LogRange gives the log's min offset and written end;
//     ReadLog(phys, dst) copies raw bytes from phys, never past the
//     written end nor across a segment's end. The rest of a segment after
//     its end-of-segment marker reads as zeros, whether the file holds
//     them or ends before them, so the stream is the log's byte image and
//     a caller advances phys by the bytes it got.
//   - AppendReplica(ctx, phys, data): phys must be the written end (else
//     *ReplicaOffsetError, which wraps ErrReplicaOffset). It takes the
//     longest prefix of data made of whole items: entries, and markers
//     together with the zeros after them to the segment's end (at most an
//     entry's size in a log Append wrote). It returns the bytes taken, 0
//     when data holds no whole item: the caller keeps what was not taken
//     and offers it again with more, so it buffers at most MaxEntrySize
//     plus a marker.
//   - What is verified, for each item before any byte of it is written:
//     magic, version and kind; for a marker, a length that reaches exactly
//     its segment's end and zeros after it; for an entry, a length within
//     [MinHeaderSize, MaxEntrySize] that leaves room for a marker in its
//     segment (Append would have rolled), the CRC-32C, a header
//     ParseHeader accepts, a queue id >= 0 unless it is a topic-deletion
//     record (which, as DeleteTopic, forgets the topic's next offsets),
//     and queue continuity: its queueOffset is its queue's next offset,
//     or anything >= 0 for a queue the replica does not hold (its
//     ConsumeQueue then starts there). A failure is an error wrapping
//     ErrCorrupt: the items before the bad one are written and counted,
//     nothing of it is. Replica and primary need the same SegmentSize
//     and MaxEntrySize.
//   - Durability and visibility as for Append: in SYNC_FLUSH the bytes
//     are durable when AppendReplica returns; the dispatcher makes them
//     readable as usual. Recovery after a crash is the same scan as a
//     primary's: the log ends at an entry boundary with its derived data
//     in line, and the next AppendReplica continues at the recovered
//     written end.
//   - Restart: a replica holding no entry (min == written) asked for a
//     later segment start (the primary's oldest segment, once its
//     retention removed older ones) drops its queues, writes a
//     checkpoint without them, and restarts its log there, once data
//     holds a whole valid item; a crash leaves the old empty log or the
//     new one. A replica that holds entries and has fallen behind the
//     primary's min offset cannot continue: a ReplicaOffsetError.
//   - The SYNC_MASTER visibility gate: GateVisible(true) keeps readers
//     below the replicated mark, which SetReplicated raises (never
//     lowers) to what a replica reported as its written end, an entry
//     boundary: visibleOffset is the smaller of the flush mode's end and
//     the mark, HoldDispatch refuses, DispatchNow and ReadAt respect it,
//     and DeleteTopic returns once its record is durable, the queues
//     going when the record is replicated. The gate is in memory: Close
//     and recovery dispatch the whole log, as RocketMQ shows a restarted
//     master's unreplicated messages.
//   - Truncate(phys), replica only: an old primary rejoining as a
//     replica cuts its log back to the prefix it shares with the new
//     primary (an entry boundary in [min, written]): the ConsumeQueue
//     units and index entries at or past phys go, the dispatched,
//     written and flushed marks and every queue's next offset move back.
//     A crash leaves the old state or the truncated one: the queues are
//     cut and a checkpoint at phys written first, then the index, then
//     the log, whose cut is one fsynced 8-byte write of zeros over the
//     header at phys (recovery ends the log there), the rest zeroed (not
//     shortened: a reader may hold the segment mapped) and later
//     segments removed. A cut past a topic-deletion record is refused:
//     the queues it dropped cannot come back.
//
// Not (yet) replicated: SetMinOffset (Kafka DeleteRecords) moves only the
// primary's queue start; a promoted replica serves those records again.
//
// # Lock order
//
// Every lock of the store and its parts, outermost first; a lock is only
// ever taken while holding locks above it in this list:
//
//	Store.dispatchMu          ownership of derived data (above)
//	  Store.waitMu            parked long polls (Notify, and the dispatch that fires them)
//	    Store.queuesMu        the queues map (RWMutex)
//	      commitlog Log.mu        appends, queue offsets, the active segment
//	      consumequeue Queue.mu   readers against a writer that shrinks or unmaps
//	commitlog Log.flushMu     one Flush at a time; taken under dispatchMu
//	                          (checkpoint), never with Log.mu but by
//	                          Log.Truncate, which takes flushMu then mu
//	index Index.mu            a leaf: nothing is taken under it
//	Store.syncMu              the SYNC_FLUSH queue; a leaf
//
// The nestings that exist: dispatchMu then waitMu (firing waiters),
// queuesMu, Log.mu (a HoldDispatch holder appends; retention deletes a
// segment; DeleteTopic forgets offsets), Queue.mu (ConsumeQueue writes),
// Log.flushMu (checkpoints) and Index.mu (puts); waitMu then queuesMu
// (Notify looks the queue up); queuesMu then Log.mu (DeleteTopic,
// recovery's SetQueueOffset) and Queue.mu (retention's
// DeleteBeforeCommitLogOffset, Close). CommitLog segments and readers'
// pins are reference counts, not locks.
//
// Two callbacks run with storage locks held. A Notify callback fired by a
// dispatch runs under dispatchMu on whichever goroutine dispatched (the
// dispatcher, or a DispatchNow or ReleaseDispatch caller): it must not
// block, nor call DeleteTopic, SetMinOffset or EnforceRetention, which
// wait for the dispatcher. Entry.Encode runs under Log.mu and must not
// call the store. Callers of DispatchNow and ReleaseDispatch must hold no
// lock a Notify callback takes.
package storage
