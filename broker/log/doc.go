// Package log is the protocol-neutral log service the adapters share
// (docs/design.md section 2, broker/log): what a Kafka produce, fetch and a
// RocketMQ send and pull have in common once their wire form is decoded.
//
// Today it holds:
//
//   - the long-poll hold service (Holds): a Kafka Fetch that waits
//     MaxWaitMs for MinBytes and a RocketMQ PULL_MESSAGE that waits
//     suspendTimeoutMillis (Java's PullRequestHoldService) park here, with
//     no goroutine and no worker held while they wait, and are answered
//     once, when one of their queues grows, their time is up, or they are
//     cut (their connection closed, or the listener drains);
//
//   - the idempotent check-and-append (Producers): the decision a pure step
//     (ProducerState, KIP-98), made one step with the append under a
//     per-partition lock, its state rebuilt from the log's tail after a
//     start through a loader the protocol adapter supplies.
//
//   - the transaction index (Txns, KIP-98): per partition the first offset
//     of each open transaction, hence the last stable offset a
//     read_committed reader stops at (ReadOptions.Until), and the aborted
//     transactions it skips; fed from the append and the markers, rebuilt
//     from the log's tail after a start; and Producers.Marker, which
//     appends a marker under the idempotence lock and fences older epochs.
//
//   - the append side (Log): every produce and send appends through it and
//     waits there for its acknowledgement condition (written in
//     ASYNC_FLUSH, fsynced in SYNC_FLUSH; on a SYNC_MASTER also held by
//     the in-sync slaves, through a Replicator: NewReplicated, package
//     broker/ha) and, for Kafka acks, for its entries to be readable;
//     AppendInline is the event-loop produce path (docs/deviations.md #11)
//     behind the same API, refused on a SYNC_MASTER.
//
//   - the read side (Log.Read, Range, End, EntryAt, OffsetForTime, and
//     ReadResult and Hold for how long a reader's bytes stay mapped):
//     every Kafka Fetch and ListOffsets and every RocketMQ PULL_MESSAGE,
//     GET_MIN/MAX_OFFSET and SEARCH_OFFSET_BY_TIMESTAMP reads here, and a
//     reader learns the visible end (Kafka's highWatermark, RocketMQ's
//     maxOffset) only from here. Today it is what the store has
//     dispatched; with replication it is what the sync-state set
//     acknowledged, enforced by the store's visibility gate, and no
//     adapter changes for it. Holds wake parked reads on the same end.
//
//   - the cross-protocol cache (Cache): what a reader made of entries the
//     other protocol wrote (a Kafka batch of RocketMQ messages, the
//     RocketMQ messages of the rest of a Kafka batch), one design for both
//     directions: keyed by queue and offset range, checked against the
//     entries' CommitLog offsets, LRU by bytes, single flight, an optional
//     admission doorkeeper, the same statistics. The conversion itself is
//     the adapters' (wire/xproto); the cache holds their results opaquely.
//
// Which paths go through the service: produce and send (append,
// acknowledgement, visibility), fetch and pull (reads, long polls). The
// adapters' produce, send, fetch and pull files import no storage package
// (internal/layering checks it by file name): they append the log's own
// Message and read back Position, and read Entry. Admin and describe
// paths keep using the store directly: DescribeConfigs, DescribeLogDirs,
// DeleteRecords, QUERY_MESSAGE and VIEW_MESSAGE_BY_ID (by key and by
// CommitLog offset, and the send-back's look-up of the message it
// retries), GET_EARLIEST_MSG_STORETIME, and the delay and timer services'
// delivery, which appends the adapters' DelayBuild entries
// (Message.StoreEntry) with its own progress record in one store write.
//
// The package imports the storage facade only: no wire codec and no
// network I/O.
package log
