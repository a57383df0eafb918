// Package controller is RocketMQ 5's controller (automatic failover,
// "controller mode") on hashicorp/raft, embedded in twinmq's name servers
// (docs/design.md section 6, docs/cluster.md#controller). Brokers of a
// group register with it, heartbeat, report their SyncStateSet, and learn
// their role from it; when a master's heartbeats stop, the leader elects a
// new master from the SyncStateSet.
//
// The package owns three things and keeps them apart:
//
//   - [State], the replicated state, and [State.Apply], its step function:
//     no goroutines, no I/O, no clock (STYLE.md habit 8). Every input of a
//     step is in the command, liveness included.
//   - The raft driver (node.go, fsm.go): hashicorp/raft with a raft-boltdb
//     log and stable store and file snapshots; the FSM applies encoded
//     commands to a State under a lock.
//   - Leader-local liveness (liveness.go, as RocketMQ's
//     DefaultBrokerHeartbeatManager): who heartbeated when. It is not
//     replicated; a new leader starts with a grace period instead.
//
// It never touches a broker's log or role itself: brokers ask and act.
//
// # Replicated state
//
//	State
//	├── groups: brokerName -> Group
//	│     clusterName, brokerName
//	│     members:      [{brokerId, brokerAddress, registerCheckCode}] ascending
//	│     nextBrokerId: past every id ever granted
//	│     masterBrokerId (-1: none), masterEpoch
//	│     syncStateSet: [brokerId] ascending, holds the master; syncStateSetEpoch
//	└── controllers: raft id -> remoting address (each leader writes its own)
//
// Invariants (checked by the random-operation test and on every snapshot
// restore): masterEpoch and syncStateSetEpoch only grow while a group
// exists; a master is always in its SyncStateSet; the SyncStateSet holds
// members only; a refused command changes nothing.
//
// # Log entry encoding, version 1
//
//	+---------+------+--------------------------------------+
//	| version | kind | JSON object of the command           |
//	| u8 = 1  | u8   | (field names as in the Go structs'    |
//	|         |      |  json tags; unknown fields refused)   |
//	+---------+------+--------------------------------------+
//	kind: 1 ApplyBrokerID, 2 RegisterBroker, 3 AlterSyncStateSet,
//	      4 ElectMaster, 5 CleanBrokerData, 6 SetControllerAddr
//
// For example an election the leader triggers:
//
//	01 04 {"clusterName":"C","brokerName":"b1","brokerId":-1,"designateElect":false,"alive":[2],"unclean":false}
//
// # Snapshot encoding, version 1
//
//	+---------+-------------------------------------------------------+
//	| version | {"groups":[Group...ascending by brokerName],          |
//	| u8 = 1  |  "controllers":{"n0":"127.0.0.1:9876",...}}          |
//	+---------+-------------------------------------------------------+
//	Group: {"clusterName","brokerName","members":[{"brokerId","brokerAddress",
//	        "registerCheckCode"}],"nextBrokerId","masterBrokerId","masterEpoch",
//	        "syncStateSet":[...],"syncStateSetEpoch"}
package controller
