// Package remotingapi is twinmq's RocketMQ adapter: it answers remoting
// commands from RocketMQ clients (rocketmq-client-go, Java, ali-ons) with
// the protocol-neutral services (storage, broker/topics, broker/offsets)
// and registers the broker with every name server. Facts cite
// docs/rocketmq-protocol.md ("spec") by section.
//
// One file per request-code family: send.go (SEND_MESSAGE 10,
// SEND_MESSAGE_V2 310, SEND_BATCH_MESSAGE 320), pull.go (PULL_MESSAGE 11
// and its long poll), clients.go (HEART_BEAT 34, UNREGISTER_CLIENT 35,
// GET_CONSUMER_LIST_BY_GROUP 38, NOTIFY_CONSUMER_IDS_CHANGED 40),
// offset.go (14, 15, 29, 30, 31, 32), lock.go (LOCK_BATCH_MQ 41,
// UNLOCK_BATCH_MQ 42), end_transaction.go (transactional sends and
// END_TRANSACTION 37), check_transaction.go (CHECK_TRANSACTION_STATE 39,
// sent to producers), admin.go (17, 21, 201, 215), query.go
// (QUERY_MESSAGE 12, VIEW_MESSAGE_BY_ID 33), toclient.go (requests the
// broker sends on a client's connection and waits for: GET_CONSUMER_RUNNING_INFO
// 307, CONSUME_MESSAGE_DIRECTLY 309) and register.go (the broker's side of
// REGISTER_BROKER 103). codes.go holds the one table from errors
// to response codes.
//
// The admin requests of mqadmin and rocketmq-dashboard: admin_stats.go (43,
// 202, 203, 204, 207, 208, 300, 303, 317), admin_reset.go
// (INVOKE_BROKER_TO_RESET_OFFSET 222 and the RESET_CONSUMER_CLIENT_OFFSET
// 220 it sends), admin_relay.go (307 and 309 from an admin, relayed to the
// client), admin_config.go (UPDATE_BROKER_CONFIG 25) and admin_json.go
// (fastjson's maps keyed by message queue).
//
// A RocketMQ message is stored as its stored-message encoding (wire/remoting,
// docs/rocketmq-protocol.md §3.3) with QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP written
// under the append lock, so a pull response is the stored payloads
// concatenated. PHYSICALOFFSET, and the offset inside an offsetMsgId, is
// the CommitLog offset of the twinmq entry (not of its payload), so
// VIEW_MESSAGE_BY_ID and storage.Store.ReadAt agree.
//
// Sends that cannot block (ASYNC_FLUSH, existing non-retry topic) are
// answered on netio's event loop, with no goroutine and no wake-up
// (inline.go, netio.InlineHandler); every other request runs on its own
// goroutine through OnFrame.
//
// Long polls (PULL_MESSAGE with the SUSPEND flag) park a storage.Notify
// registration and a timer, never a goroutine; the frame's done is called
// at once so netio's shutdown does not wait for them.
package remotingapi
