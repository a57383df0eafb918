// Package groups is the Kafka consumer-group coordinator for the classic
// group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup; KIP-62,
// KIP-134, KIP-345, KIP-394, KIP-559, KIP-800, KIP-814) and the KIP-848
// consumer protocol (consumer*.go), kept free of the
// Kafka wire encoding: the adapter in broker/kafkaapi maps its requests to
// this package's types and its sentinel errors to Kafka error codes.
//
// # Shape (STYLE.md habit 8)
//
// Group is a deterministic core: no goroutines, no I/O, no clock. Every
// event (Join, Sync, Heartbeat, Leave, Tick) takes the current time and
// returns a Ready: the replies to parked calls it completed, and whether
// the group's durable record changed. Deadline says when Tick must run
// next. Coordinator is the thin driver: one mutex and one timer per
// group, the parked callers' callbacks, and persistence.
//
// # States (Kafka's GroupMetadata)
//
//	Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance
//	  ▲                 ▲        │ no members left                     │ leader's SyncGroup
//	  └─────────────────┼────────┘                                     ▼
//	                    └──────── join, leave, expiry ◀─────────── Stable
//	Dead: deleted (DeleteGroups); the coordinator forgets it.
//
// # Durable record, version 1
//
// The group's metadata is one key of the kvlog table on the internal topic
// "__twinmq_groups" (key: the group id), written when a generation becomes
// Stable, when the group becomes Empty and when a static member's id is
// replaced; deleted with the group. Committed offsets live in
// broker/offsets. Integers are big-endian; str is uvarint length + bytes;
// bytes is uvarint length + bytes.
//
//	uint8 version=1 | str protocolType | int32 generation | str protocol
//	| str leader | uvarint memberCount | member*
//	member: str memberId | str instanceId (empty: none) | str clientId
//	      | str clientHost | int32 sessionTimeoutMs | int32 rebalanceTimeoutMs
//	      | uvarint protocolCount | (str name | bytes metadata)* | bytes assignment
//
// A restarted coordinator restores each group as Stable (or Empty) with
// the recorded generation and assignments and gives every member a fresh
// session timeout, so members that keep heartbeating carry on unchanged.
//
// # Consumer group record (KIP-848), version 1
//
// A KIP-848 group is one key of the same table: "\x00848\x00" + group id
// (the NUL bytes keep it apart from classic keys; a value's first byte
// tells the layouts apart too). It is a snapshot of what Kafka keeps as
// ConsumerGroupMetadata, TargetAssignment and CurrentMemberAssignment
// records, written whenever one of them changes (a join, a leave, an
// expiry, a new target, a member's epoch or assignment); a keepalive
// heartbeat writes nothing. Deleted with the group.
//
//	uint8 tag=0x84 | int32 groupEpoch | int32 assignmentEpoch | str assignor
//	| str subscriptions (the target's fingerprint) | uint8 dirty
//	| uvarint memberCount | member*
//	member: str memberId | str instanceId | str rackId | str clientId
//	      | str clientHost | int32 memberEpoch | int32 previousEpoch
//	      | int32 rebalanceTimeoutMs | uint8 left | str regex | str assignor
//	      | uvarint topicCount | str* | assignment assigned
//	      | assignment revoking | assignment target
//	assignment: uvarint topicCount | (str topic | uvarint n | int32 partition*)*
//
// A restarted coordinator restores the group epoch, the target and every
// member's epoch and partitions, with fresh sessions, so a member that
// keeps heartbeating with its epoch keeps its partitions: no rejoin.
//
// # Followers
//
// A slave's group records are its master's, replicated with the
// CommitLog. A Coordinator opened with CoordinatorConfig.Follow keeps
// their kvlog table in step (a kvlog follower) but runs no groups: group
// calls (JoinGroup, SyncGroup, Heartbeat, commits through a group, the
// KIP-848 heartbeat) answer ErrCoordinatorNotAvailable, so Kafka clients
// look for the coordinator again and find the master; committed offsets
// are read through the offsets table, and ForgetTopic does nothing (the
// master's deletions replicate). Promote restores the replicated groups
// as a restart does, with fresh sessions.
package groups
