// Package halfmsg holds twinmq's protocol-neutral transaction half
// messages (RocketMQ's transactional messages, docs/rocketmq-protocol.md
// §2.9 and §6.4; docs/transactions-rocketmq.md): where a prepared message
// waits, how END_TRANSACTION resolves it, and when a producer is asked
// for the state of a transaction it did not end (the check-back).
//
// # Topics
//
// A prepared message is stored, in its protocol's encoding, in queue 0 of
// HalfTopic (RMQ_SYS_TRANS_HALF_TOPIC, RocketMQ's name). Its key is its
// offset in that queue: RocketMQ's tranStateTableOffset. The adapter
// appends it and then calls Service.Prepared. Resolving it appends, in
// one write, what the adapter builds from it (the committed message in
// its real topic, nothing for a rollback) followed by an op record in
// queue 0 of OpTopic (RMQ_SYS_TRANS_OP_HALF_TOPIC). A half message given
// up on after MaxChecks check-backs is copied to CheckMaxTopic
// (TRANS_CHECK_MAX_TIME_TOPIC) with its op record, as RocketMQ does.
//
// Both topics live in the CommitLog like any data, so they replicate and
// recover with it. At start the service replays OpTopic and HalfTopic:
// every half message without a resolving op record is pending again,
// with the number of check-backs it already had. Pending half messages
// are bounded (MaxPending); a new one past that is refused (ErrTooMany).
//
// # Op record, version 1
//
// One storage.KindInternal entry of queue 0 of OpTopic, 12 bytes:
//
//	+---------+--------+--------------+-------------+
//	| version | action | key          | checks      |
//	| uint8=1 | uint8  | int64 (BE)   | uint16 (BE) |
//	+---------+--------+--------------+-------------+
//	 action: 1 commit, 2 rollback, 3 checked, 4 discarded
//
// checks is the number of check-backs sent so far (for "checked", this
// one included). RocketMQ's op messages carry the half offset as text
// ("<offset>,"), and RocketMQ re-appends a half message at each check to
// count them; twinmq keeps both facts in this one record instead.
//
// A snapshot record (action 5) sums up the records before it, which are
// then dropped from the queue (storage.Store.SetMinOffset), so a start
// replays the op records since the last snapshot and the half messages
// from its low mark on:
//
//	+---------+----------+-----------+-----------+-----------+--------------------------+
//	| version | action=5 | low       | n         | n x key   | m, m x (key, checks)     |
//	| uint8=1 | uint8    | int64 BE  | uint32 BE | int64 BE  | uint32 BE, int64, uint16 |
//	+---------+----------+-----------+-----------+-----------+--------------------------+
//
// Every half message below low is resolved, and so are the n keys (each
// above low, ascending); the m pairs are the check counts of pending half
// messages. Records only add facts (a key resolved, a count reached), so
// replay applies them in any order. One is written every SnapshotEvery op
// records, and at start, while no other op record is being appended.
//
// # Atomicity
//
// The committed message and its op record go out in one Append, the op
// record last. A clean stop never separates them; a crash that tears the
// write can keep the message without the record, and the check-back then
// asks the producer again: a transaction is never lost, at worst
// committed twice (RocketMQ's guarantee too). Nothing is ever half
// applied in the other direction: an op record is never durable without
// the message before it.
//
// # Check-back
//
// Core is a deterministic state machine (STYLE.md habit 8): no goroutines,
// no I/O, no clock. A pending half message is first checked once it is
// Timeout old (transactionTimeOut), then every Interval
// (transactionCheckInterval) until it is resolved; after MaxChecks
// (transactionCheckMax) checks it is discarded. Service is its driver: it
// steps the core under one mutex and carries out the effects (reads,
// appends, the adapter's Check and Discarded calls) outside it.
package halfmsg
