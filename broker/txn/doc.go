// Package txn is the transaction coordinator (Kafka's KIP-98 transactions,
// protocol-neutral): per transactional id, which producer id and epoch own
// it, which partitions and consumer groups the open transaction touched,
// the consumer offsets it commits, and its state.
//
// The decisions are a pure core (core.go: one function per request, each
// taking the current Meta and returning the next one or a sentinel error;
// no lock, no I/O, no clock). The Coordinator (coordinator.go) is the
// driver: it keeps the table in an internal topic (broker/kvlog, topic
// __twinmq_transactions, so the state recovers and replicates with the
// CommitLog as every internal topic does), serializes the requests of one
// transactional id, writes the COMMIT/ABORT markers through a
// MarkerWriter the protocol adapter supplies, applies the transaction's
// consumer offsets through an OffsetWriter at commit, and aborts
// transactions that outlive their timeout.
//
// # States (Kafka's TransactionState)
//
//	Empty --AddPartitions/AddOffsets--> Ongoing --EndTxn--> PrepareCommit --markers--> CompleteCommit
//	                                       |                PrepareAbort  --markers--> CompleteAbort
//	                                       +--timeout / InitProducerId (fencing)--> PrepareAbort
//
// With KIP-890 part 2 (EndTxn v5+, Meta.V2) the Prepare state carries the
// bumped epoch, its markers too, and Complete is where the producer's
// next epoch (or, the epoch exhausted, next producer id) takes effect.
//
// A Prepare state is written before the first marker and the Complete
// state after the last one, so a broker that stops in between finds the
// Prepare state at start and writes the markers again (a marker written
// twice is harmless: readers match markers to producers, and a second
// one closes nothing). No transaction is ever half applied.
//
// # Record layout (versions 1 and 2)
//
// The value of a transactional id's kvlog record (the key is the id):
//
//	+---------+-------+------------+-------+-----------+---------+----------+
//	| version | state | producerId | epoch | timeoutMs | startMs | updateMs |
//	| u8 = 1  | u8    | i64        | i16   | i32       | i64     | i64      |
//	+---------+-------+------------+-------+-----------+---------+----------+
//	| nParts u32 | nParts x (topic str, partition i32)                      |
//	| nGroups u32 | nGroups x (group str)                                   |
//	| nOffsets u32 | nOffsets x (group str, topic str, partition i32,       |
//	|              |   offset i64, leaderEpoch i32, metadata str)           |
//	+------------------------------------------------------------------------+
//
// Version 2 is version 1 with u8 = 2 first and, after the offsets:
//
//	+-------------------+--------------------+--------------------+
//	| flags u8 (1: V2)  | nextProducerId i64 | prevProducerId i64 |
//	+-------------------+--------------------+--------------------+
//	| nRemote u32 | nRemote x (topic str, partition i32, group str) |
//	+---------------------------------------------------------------+
//	| nRemoteOffsets u32 | nRemoteOffsets x (an offset as in version  |
//	|                    |   1, then owner str)                       |
//	+---------------------------------------------------------------+
//
// (KIP-890 part 2: the transaction's EndTxn bumps the epoch; the producer
// id an exhausted epoch moves to at Complete, and the one it moved from.
// The remote partitions are queues of other broker groups, group never
// empty; nParts counts the coordinator's own group's queues only; the
// remote offsets likewise, owner being the queue's group.)
// Version 2 is written; both are read.
//
// Integers are big-endian; str is a u16 length and the bytes. The
// constants never change; another layout gets another version.
package txn
