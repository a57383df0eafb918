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
//   - the idempotent check-and-append (Producers): the decision a pure step
//     (ProducerState, KIP-98), made one step with the append under a
//     per-partition lock, its state rebuilt from the log's tail after a
//     start through a loader the protocol adapter supplies.
//
// Appending itself, waiting for the acknowledgement condition (flushed in
// SYNC_FLUSH, written in ASYNC_FLUSH; replicated, once the cluster work
// lands) and making entries visible are still the adapters' calls into
// storage; they move here next (issue 13).
//
// The package imports the storage facade only: no wire codec and no
// network I/O.
package log
