// Package commitlog is twinmq's CommitLog: one append-only log holding the
// entries of every topic and queue of both protocols, in append order, cut
// into segment files of a fixed size. It is the store's only source of
// truth: the ConsumeQueues and the IndexFile (packages consumequeue and
// index, driven by package storage) are derived from it and rebuilt from
// it after a crash.
//
// It never interprets a payload (Entry.Encode lets the protocol patch
// offsets into its own bytes), never decides when to flush (the store's
// flusher and checkpoint call Flush), starts no goroutine, and does all
// file I/O through vfs.FS.
//
// # Segments
//
// The log is one directory (the store uses <dir>/commitlog/) of segment
// files of SegmentSize bytes each (storage.Config.SegmentSize, default
// 1 GiB, as RocketMQ's mappedFileSizeCommitLog). A segment is named by the
// 20-digit zero-padded decimal physical offset of its first byte, a
// multiple of SegmentSize. Physical offsets (Position.Phys, a
// ConsumeQueue unit's commitLogOffset, an IndexFile entry's phyOffset)
// are byte offsets in the concatenation of the segments.
//
//	commitlog/
//	  00000000000000000000   bytes [0, S)
//	  00000000001073741824   bytes [S, 2S)      (S = 1 GiB)
//	  ...
//
// Open refuses, with ErrCorrupt, a name of another form, a start that is
// not a multiple of the configured SegmentSize (the log was written with
// another one) and a missing segment between two others. Segments are
// created (and their directory synced) when the active one is full; they
// are not preallocated but grow as entries, and the zeros written ahead
// of them, are written. Each is mapped for its whole SegmentSize: readers
// read through that view, never past WrittenOffset, and never past the
// size a segment's file had at Open (on the OS a read past the file's end
// faults, SIGBUS): a file found shorter than the log it belongs to, cut
// by damage below the store's checkpoint, reads as ErrCorrupt there, from
// Read, ReadPinned and Scan alike, before Recover as after.
//
// An entry never straddles two segments. When an entry plus an
// end-of-segment marker (BlankSize, 8 bytes) does not fit in the rest of
// the active segment, the marker is written there, covering the rest, and
// the entry starts the next segment; every entry leaves room for the
// marker after it.
//
// # Entry layout, format version 1
//
// All integers are big-endian. The fixed part is 44 bytes; headerLen is at
// least MinHeaderSize (52: an empty topic, no tags codes, no keys).
//
//	+--------------+-------+-------------+-----------------------------------------+
//	| offset       | size  | field       |                                         |
//	+--------------+-------+-------------+-----------------------------------------+
//	| 0            | 4     | length      | uint32, the whole entry (header and     |
//	|              |       |             | payload), at most MaxEntrySize          |
//	| 4            | 2     | magic       | 0x5451, "TQ" (Magic)                    |
//	| 6            | 1     | version     | 1 (FormatVersion)                       |
//	| 7            | 1     | kind        | 1 RocketMQ, 2 Kafka, 3 internal         |
//	| 8            | 4     | crc         | CRC-32C (Castagnoli) of bytes [0,8)     |
//	|              |       |             | then [12,length): all but itself        |
//	| 12           | 4     | headerLen   | uint32, where the payload starts        |
//	| 16           | 2     | flags       | bit 0: one tags code per record         |
//	| 18           | 2     | topicLen    | uint16 T                                |
//	| 20           | 4     | queueId     | int32                                   |
//	| 24           | 8     | queueOffset | int64, first logical offset covered     |
//	| 32           | 4     | count       | int32 >= 1, logical offsets covered     |
//	| 36           | 8     | storeTime   | int64, ms since the epoch               |
//	| 44           | T     | topic       | bytes                                   |
//	| 44+T         | 4     | nTags       | uint32 N: 0, 1 or count                 |
//	| 48+T         | 8N    | tagsCodes   | N x int64                               |
//	| 48+T+8N      | 4     | nKeys       | uint32                                  |
//	| 52+T+8N      | ...   | keys        | nKeys x (keyLen uint16, key bytes),     |
//	|              |       |             | up to headerLen                         |
//	| headerLen    | ...   | payload     | length-headerLen bytes                  |
//	+--------------+-------+-------------+-----------------------------------------+
//
//	end-of-segment marker (BlankSize = 8 bytes, no CRC):
//	+------------------+-------------+-------------+-------------+
//	| length uint32    | magic 0x5451| version 1   | kind 0x7f   |
//	+------------------+-------------+-------------+-------------+
//	 0                  4             6             7             8
//	length = bytes from the marker to the end of its segment
//
// For example, the Kafka entry of topic "ab", queue 7, three records with
// tags codes 1, 2 and 3, keys "k1" and "xyz", payload "PAY", queueOffset
// 0x1122 and storeTime 0x3344 is these 90 bytes (headerLen 87):
//
//	00000000  00 00 00 5a 54 51 01 02  51 32 73 ae 00 00 00 57  |...ZTQ..Q2s....W|
//	00000010  00 01 00 02 00 00 00 07  00 00 00 00 00 00 11 22  |..............."|
//	00000020  00 00 00 03 00 00 00 00  00 00 33 44 61 62 00 00  |..........3Dab..|
//	00000030  00 03 00 00 00 00 00 00  00 01 00 00 00 00 00 00  |................|
//	00000040  00 02 00 00 00 00 00 00  00 03 00 00 00 02 00 02  |................|
//	00000050  6b 31 00 03 78 79 7a 50  41 59                    |k1..xyzPAY|
//
// The fields, as Append writes them:
//
//   - queueOffset and storeTime are stamped under the append lock:
//     queueOffset is the queue's next logical offset (the Kafka baseOffset,
//     the RocketMQ queue offset), storeTime one clock reading per Append
//     call (Options.Now, a wall clock), raised to the previous call's when
//     the clock stepped back, so store times never decrease along the log
//     (SetStoreTime carries the newest across a restart). The store
//     binary-searches a ConsumeQueue on them (OffsetForTime), with no time
//     index of its own; RocketMQ reads the clock under its put lock too,
//     but does not clamp, and Kafka, which does not clamp LogAppendTime
//     either, keeps a monotonic time index (maxTimestampSoFar) instead. A
//     clock stepped far forward and back pins store times until it
//     catches up; retention goes by segment modification times, not store
//     times. Then Entry.Encode runs on the payload, and then the CRC is
//     computed, so it covers what Encode wrote.
//   - count is 1 for a RocketMQ message and the record count of a Kafka
//     batch; the ConsumeQueue gets one unit per covered offset, all
//     pointing at this entry.
//   - tagsCodes: none (every offset's code is 0), one (for every covered
//     offset), or exactly count (one per record, and then flags bit 0 is
//     set). The decoder does not read flags: nTags says the same, and the
//     other flag bits are written 0 and not checked.
//   - keys are the entry's index keys without the topic; a key longer than
//     65535 bytes is left out (and not counted in nKeys). The decoder does
//     not read nKeys: the key list runs to headerLen.
//
// A length and a magic of zero, or fewer than 8 bytes left that are all
// zero, is the end of the data (the zero-filled space ahead of the write
// position, see below), not corruption. ParseHeader checks, in order: the
// magic; the version (0, which a torn write reads as, is ErrCorrupt;
// another number is ErrFormatVersion); the kind; length within
// [MinHeaderSize, bytes left]; the CRC when asked; headerLen within
// [MinHeaderSize, length] and count >= 1; the topic, nTags and the nKeys
// word inside headerLen, and nTags <= count. Every failure but
// ErrFormatVersion wraps ErrCorrupt; Read, Scan and Recover add the
// segment and the offset in it.
//
// Magic, FormatVersion and these offsets never change: a new entry layout
// gets a new version number. The data directory as a whole is versioned
// by package storage (its FORMAT file).
//
// # Payload kinds
//
// The log stores payloads as given; Kind tells a reader which protocol
// wrote one:
//
//   - KindRocketMQ: one RocketMQ message in RocketMQ's stored-message
//     encoding (wire/remoting AppendStoredMessage); its Encode patches
//     QUEUEOFFSET, PHYSICALOFFSET (the entry's own physical offset) and
//     STORETIMESTAMP.
//   - KindKafka: one Kafka v2 record batch as the producer sent it; its
//     Encode sets the batch's baseOffset and partitionLeaderEpoch (and,
//     for LogAppendTime topics, the append time).
//   - KindInternal: a record of a broker-internal topic (consumer offsets,
//     group metadata, producer ids, delay and timer progress), in its
//     owner's layout; or, with queueId -1 (DeletionQueueID), a
//     topic-deletion record (Log.DeleteTopic): the deleted topic's name,
//     count 1, no tags codes, keys or payload. Its queueOffset is 0 and
//     means nothing. The log assigns the queue id -1 to nothing else:
//     Append refuses negative queue ids. The store's FORMAT version 2
//     says a log may hold these records; the entry layout is version 1.
//
// # Appends: pwrite or mapped stores
//
// Append encodes all of one call's entries into one buffer and writes it
// into the active segment: by default with one WriteAt (pwrite); with
// Options.MappedWrites (the store sets it in ASYNC_FLUSH only) by copying
// it into the segment's writable mapping, with no system call, once the
// bytes land in space already zero-filled and more than mappedMinUnflushed
// (2 MiB) bytes wait for the next flush or the last two flushes made more
// than that durable. Options.ZeroAhead keeps zeros written ahead of the write
// position (refilled to ZeroAhead once fewer than ZeroAhead/2 are left; in
// 256 KiB writes, or aligned 2 MiB pieces and at least 4 MiB with
// MappedWrites), so fdatasync flushes data, not the file size and block
// map, and a mapped store never lands past the file's end; a full disk
// fails the zero-fill's WriteAt, never a store. The measured reasons for
// each number are at Options, zeroPiece, mappedZeroPiece and
// mappedMinUnflushed.
//
// Invariants of Append:
//
//   - Every entry is validated (sizes, count, tags codes, MaxEntrySize)
//     before any consumes a queue offset: a refused call changes nothing.
//   - Queue offsets advance before the write. Append takes each entry's
//     offsets from queueNext and advances it while it encodes the buffer,
//     and writes the buffer only afterwards. If the write, the roll to a
//     new segment or the zero-fill fails, offsets have been consumed by
//     entries that are not in the log. That is safe only because every
//     failure after validation fails the log for good (Log.fail: Err and
//     every later Append report ErrFailed): no later entry is ever written
//     past the hole, and the next Open takes the offsets from the
//     ConsumeQueues (Log.SetQueueOffset), which recovery rebuilds from
//     what the log holds. An error path in Append that returned without
//     failing the log would leave a hole in the queue, and the next entry
//     of that queue could not be dispatched.
//   - The one exception is a full disk (ENOSPC, EDQUOT) while nothing of
//     the call is in the log yet: the call gives its queue offsets back,
//     zeroes (inside the zero-filled space) or cuts off (past it) the
//     bytes the failed write left, and reports ErrNoSpace; the log stays
//     usable, so the next append, once there is space, takes the same
//     offsets. If a roll inside the call already wrote some of its
//     entries, the log fails as for any other error.
//   - A failed Append may still have written some of its entries: those
//     before a segment roll whose new segment could not be created. The
//     positions it returns with an error are not to be trusted.
//   - WrittenOffset is stored only after the bytes are in the file or the
//     mapping, so a reader that loads it first sees whole entries.
//     FlushedOffset <= WrittenOffset, and each is an entry boundary or a
//     segment start.
//   - Per queue, logical offsets are consecutive in CommitLog order, so
//     the dispatcher appends each ConsumeQueue in order and the units'
//     commitLogOffsets never decrease.
//
// # Flush
//
// Flush makes every byte written when it started durable: fdatasync of
// each segment holding unflushed bytes, oldest first, and only then
// FlushedOffset moves. A failed fsync fails the log for good (ErrFailed):
// the kernel may have dropped the dirty pages, so a retry that succeeded
// would claim durability for data that is gone. Close flushes nothing;
// the store flushes before its final checkpoint.
//
// # Recovery
//
// Open only lists and maps the segments; Recover(from, fn) makes the log
// usable. It is a pure scan: from the physical offset from (the store's
// checkpoint: an entry boundary, below which everything is durable and
// known good) it parses and CRC-checks every entry, follows end-of-segment
// markers (whose length must reach exactly the segment end), and calls fn
// for each valid entry. It stops at the first entry that fails: the end of
// the data (zeros, or the file's end in the last segment) is not reported;
// anything else is Recovered.Reason. The log is then truncated
// there, durably: that segment file is cut at the stop and fsynced, later
// segment files are removed and the directory synced, and the bytes
// dropped are reported. Two exceptions: an entry of another format version
// (ErrFormatVersion) stops Recover with an error and truncates nothing,
// and a segment other than the last that ends without a marker is
// corruption, cut like any other. A from inside an entry would read as
// corruption and cut the log there: callers pass an entry boundary. A
// from past the end of its segment's file, or past the last segment, is
// refused with ErrCorrupt: the bytes the caller vouched for are gone, and
// appending there would leave a hole its derived data points into.
//
// # Replication
//
// A replica's log (SetReplica) refuses Append and DeleteTopic
// (ErrReplica) and takes AppendReplica: bytes of a primary's log at its
// own WrittenOffset, written verbatim at the same offsets once each
// whole entry or marker is verified (verifyReplica lists the checks), the
// markers by the same roll Append does. ReadRaw is the primary's side:
// the log's byte image, the blank after a marker read as zeros. RestartAt
// moves an empty replica's log to a later segment start; Truncate cuts a
// replica's log back to an entry boundary, crash-safe by one fsynced
// write of zeros over the header there. Package storage documents the
// protocol (its Replication section).
//
// # Concurrency and lock order
//
// Log.mu serializes appends and guards the active segment, queueNext, the
// write buffer, the zero-fill mark and closed; Log.flushMu lets one Flush
// run at a time. The two are never held together (but by a replica's
// Truncate, which takes flushMu then mu, so no Flush publishes a flushed
// offset past its cut): Append never flushes
// and Flush never takes mu, so an ASYNC_FLUSH append never waits for the
// periodic fsync. Nothing else is locked under either; Entry.Encode runs
// under mu and must not call back into the log.
//
// Readers take no lock. The segment list is a copy-on-write slice behind
// an atomic pointer, replaced under mu (or by Recover, before the log is
// shared); WrittenOffset and FlushedOffset are atomics. Each segment
// counts references (the log's own plus one per Ref or Pins holding it)
// and is unmapped and closed when the last goes, so DeleteOldest
// (retention) may remove a segment whose bytes a reader is still sending.
package commitlog
