// Package pop is twinmq's protocol-neutral queue-semantics engine (issue
// 18): RocketMQ 5's POP consumption, and later Kafka share groups
// (KIP-932), over the same queues every other consumer reads.
//
// Per (group, topic, queue) a consumer group acquires records instead of
// owning the queue: each acquired record is locked until a deadline (the
// invisible time), then acknowledged, released, or given more time; a
// lock that expires makes the record deliverable again, with a delivery
// count. Past the maximum number of deliveries the adapter dead-letters
// the record (RocketMQ: %DLQ%group) and the engine counts it done.
//
// # Shape
//
// Queue is the pure core (STYLE.md habit 8): no goroutines, no I/O, no
// clock; every step takes now (ms) and is tested without sleeps. Engine
// is the durable driver: it owns one Queue per key, serializes the steps
// of a key, and writes the key's state to the internal topic
// __twinmq_pop (a kvlog table, so it recovers and replicates like data)
// before a step's result leaves the broker. After a restart an acquired
// record whose lock has not expired stays locked until its deadline; an
// acknowledged one is never delivered again.
//
// The engine never reads messages: the adapter hands it a reader
// (Engine.Acquire) that turns offsets into its own protocol's records, so
// tag filtering, Kafka-batch conversion and message encoding stay in the
// adapters.
//
// # State layout (version 2), the value of one kvlog key
//
//	+---------+--------+--------+-------+---------------------------------------------+
//	| version | acked  | next   | n     | n x (offset int64, deadline int64 ms,       |
//	| uint8=2 | int64  | int64  | uint32|      attempts int32, serial uint32,         |
//	|         |        |        |       |      flags uint8: 1 = ordered)       29 B   |
//	+---------+--------+--------+-------+---------------------------------------------+
//	 big-endian; offsets in [acked, next) not listed are done. Version 1
//	 (no flags byte, 28 B per lock) is still read.
//
// The key is "g/" + group + "\x00" + topic + "\x00" + queue (decimal). The
// key "secret" holds the 32-byte key that signs receipt handles
// (handle.go), drawn at first start.
package pop
