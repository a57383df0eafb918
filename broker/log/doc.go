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
//   - the append side (Log): every produce and send appends through it and
//     waits there for its acknowledgement condition (written in
//     ASYNC_FLUSH, fsynced in SYNC_FLUSH; "replicated to the sync-state
//     set" goes here with the cluster work) and, for Kafka acks, for its
//     entries to be readable; AppendInline is the event-loop produce path
//     (docs/deviations.md #11) behind the same API.
//
// The adapters still read (fetch, pull) from storage directly and build
// their storage entries; reads move here when visibility must stop at an
// acknowledged offset rather than at the written one (replication).
//
// The package imports the storage facade only: no wire codec and no
// network I/O.
package log
