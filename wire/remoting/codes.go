package remoting

// MaxFrameSize bounds a whole frame, its 4-byte length word included: Java's
// NettyDecoder default com.rocketmq.remoting.frameMaxLength (docs/rocketmq-protocol.md §1.1).
const MaxFrameSize = 16 << 20

// Serialize types: the high byte of the header-length word (docs/rocketmq-protocol.md §1.1).
const (
	SerializeJSON     uint8 = 0
	SerializeRocketMQ uint8 = 1
)

// Flag bits (docs/rocketmq-protocol.md §1.2, §1.6).
const (
	FlagResponse int32 = 1 << 0 // RPC_TYPE: 1 = response
	FlagOneway   int32 = 1 << 1 // RPC_ONEWAY: the requester wants no reply
)

// DefaultVersion is the MQVersion ordinal twinmq puts in the commands it
// originates: V5_3_3 (479), what a current Java broker sends (docs/rocketmq-protocol.md §1.2).
const DefaultVersion int32 = 479

// Request codes (RequestCode.java, docs/rocketmq-protocol.md §2.1). Codes above 32767 cannot be
// carried in a ROCKETMQ header; AppendCommand falls back to JSON for them.
const (
	SendMessage                   int32 = 10
	PullMessage                   int32 = 11
	QueryMessage                  int32 = 12
	QueryConsumerOffset           int32 = 14
	UpdateConsumerOffset          int32 = 15
	UpdateAndCreateTopic          int32 = 17
	GetBrokerConfig               int32 = 26
	GetBrokerRuntimeInfo          int32 = 28
	SearchOffsetByTimestamp       int32 = 29
	GetMaxOffset                  int32 = 30
	GetMinOffset                  int32 = 31
	GetEarliestMsgStoretime       int32 = 32
	ViewMessageByID               int32 = 33
	HeartBeat                     int32 = 34
	UnregisterClient              int32 = 35
	ConsumerSendMsgBack           int32 = 36
	EndTransaction                int32 = 37
	GetConsumerListByGroup        int32 = 38
	CheckTransactionState         int32 = 39
	NotifyConsumerIDsChanged      int32 = 40
	LockBatchMQ                   int32 = 41
	UnlockBatchMQ                 int32 = 42
	RegisterBroker                int32 = 103
	UnregisterBroker              int32 = 104
	GetRouteinfoByTopic           int32 = 105
	GetBrokerClusterInfo          int32 = 106
	GetAllSubscriptionGroupConfig int32 = 201
	GetAllTopicListFromNameserver int32 = 206
	DeleteTopicInBroker           int32 = 215
	DeleteTopicInNamesrv          int32 = 216
	ResetConsumerClientOffset     int32 = 220
	GetConsumerStatusFromClient   int32 = 221
	GetConsumerRunningInfo        int32 = 307
	ConsumeMessageDirectly        int32 = 309
	SendMessageV2                 int32 = 310
	SendBatchMessage              int32 = 320
	SendReplyMessage              int32 = 324
	SendReplyMessageV2            int32 = 325
	PushReplyMessageToClient      int32 = 326
	BrokerHeartbeat               int32 = 904
	PopMessage                    int32 = 200050
	AckMessage                    int32 = 200051
	PeekMessage                   int32 = 200052
	ChangeMessageInvisibleTime    int32 = 200053
	Notification                  int32 = 200054
	BatchAckMessage               int32 = 200151
	// GetClusterView is twinmq's own: a name server answers it with every
	// broker group of a cluster and every topic's placement, the map Kafka
	// partitions are numbered by (nameserver.ClusterView). RocketMQ uses
	// no code in its range.
	GetClusterView int32 = 710001
)

// Response codes (RemotingSysResponseCode.java, ResponseCode.java, docs/rocketmq-protocol.md §2.0).
const (
	Success                    int32 = 0
	SystemError                int32 = 1
	SystemBusy                 int32 = 2
	RequestCodeNotSupported    int32 = 3
	TransactionFailed          int32 = 4
	FlushDiskTimeout           int32 = 10
	SlaveNotAvailable          int32 = 11
	FlushSlaveTimeout          int32 = 12
	MessageIllegal             int32 = 13
	ServiceNotAvailable        int32 = 14
	VersionNotSupported        int32 = 15
	NoPermission               int32 = 16
	TopicNotExist              int32 = 17
	TopicExistAlready          int32 = 18
	PullNotFound               int32 = 19
	PullRetryImmediately       int32 = 20
	PullOffsetMoved            int32 = 21
	QueryNotFound              int32 = 22
	SubscriptionParseFailed    int32 = 23
	SubscriptionNotExist       int32 = 24
	SubscriptionNotLatest      int32 = 25
	SubscriptionGroupNotExist  int32 = 26
	FilterDataNotExist         int32 = 27
	FilterDataNotLatest        int32 = 28
	InvalidParameter           int32 = 29
	TransactionShouldCommit    int32 = 200
	TransactionShouldRollback  int32 = 201
	TransactionStateUnknow     int32 = 202
	TransactionStateGroupWrong int32 = 203
	NoBuyerID                  int32 = 204
	NotInCurrentUnit           int32 = 205
	ConsumerNotOnline          int32 = 206
	ConsumeMsgTimeout          int32 = 207
	NoMessage                  int32 = 208
	PollingFull                int32 = 209
	PollingTimeout             int32 = 210
	BrokerNotExist             int32 = 211
	BrokerDispatchNotComplete  int32 = 212
	BroadcastConsumption       int32 = 213
	FlowControl                int32 = 215
	NotLeaderForQueue          int32 = 501
	IllegalOperation           int32 = 604
	GoAway                     int32 = 1500
)

// requestNames and responseNames are read-only lookup tables, never written
// after initialization.
var requestNames = map[int32]string{
	SendMessage: "SEND_MESSAGE", PullMessage: "PULL_MESSAGE", QueryMessage: "QUERY_MESSAGE",
	QueryConsumerOffset: "QUERY_CONSUMER_OFFSET", UpdateConsumerOffset: "UPDATE_CONSUMER_OFFSET",
	UpdateAndCreateTopic: "UPDATE_AND_CREATE_TOPIC", GetBrokerConfig: "GET_BROKER_CONFIG",
	GetBrokerRuntimeInfo: "GET_BROKER_RUNTIME_INFO", SearchOffsetByTimestamp: "SEARCH_OFFSET_BY_TIMESTAMP",
	GetMaxOffset: "GET_MAX_OFFSET", GetMinOffset: "GET_MIN_OFFSET", GetEarliestMsgStoretime: "GET_EARLIEST_MSG_STORETIME",
	ViewMessageByID: "VIEW_MESSAGE_BY_ID", HeartBeat: "HEART_BEAT", UnregisterClient: "UNREGISTER_CLIENT",
	ConsumerSendMsgBack: "CONSUMER_SEND_MSG_BACK", EndTransaction: "END_TRANSACTION",
	GetConsumerListByGroup: "GET_CONSUMER_LIST_BY_GROUP", CheckTransactionState: "CHECK_TRANSACTION_STATE",
	NotifyConsumerIDsChanged: "NOTIFY_CONSUMER_IDS_CHANGED", LockBatchMQ: "LOCK_BATCH_MQ", UnlockBatchMQ: "UNLOCK_BATCH_MQ",
	RegisterBroker: "REGISTER_BROKER", UnregisterBroker: "UNREGISTER_BROKER", GetRouteinfoByTopic: "GET_ROUTEINFO_BY_TOPIC",
	GetBrokerClusterInfo: "GET_BROKER_CLUSTER_INFO", GetAllSubscriptionGroupConfig: "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
	GetAllTopicListFromNameserver: "GET_ALL_TOPIC_LIST_FROM_NAMESERVER", DeleteTopicInBroker: "DELETE_TOPIC_IN_BROKER",
	DeleteTopicInNamesrv: "DELETE_TOPIC_IN_NAMESRV", ResetConsumerClientOffset: "RESET_CONSUMER_CLIENT_OFFSET",
	GetConsumerStatusFromClient: "GET_CONSUMER_STATUS_FROM_CLIENT", GetConsumerRunningInfo: "GET_CONSUMER_RUNNING_INFO",
	ConsumeMessageDirectly: "CONSUME_MESSAGE_DIRECTLY", SendMessageV2: "SEND_MESSAGE_V2", SendBatchMessage: "SEND_BATCH_MESSAGE",
	SendReplyMessage: "SEND_REPLY_MESSAGE", SendReplyMessageV2: "SEND_REPLY_MESSAGE_V2",
	PushReplyMessageToClient: "PUSH_REPLY_MESSAGE_TO_CLIENT", BrokerHeartbeat: "BROKER_HEARTBEAT",
	PopMessage: "POP_MESSAGE", AckMessage: "ACK_MESSAGE", PeekMessage: "PEEK_MESSAGE",
	ChangeMessageInvisibleTime: "CHANGE_MESSAGE_INVISIBLETIME", Notification: "NOTIFICATION", BatchAckMessage: "BATCH_ACK_MESSAGE",
}

var responseNames = map[int32]string{
	Success: "SUCCESS", SystemError: "SYSTEM_ERROR", SystemBusy: "SYSTEM_BUSY",
	RequestCodeNotSupported: "REQUEST_CODE_NOT_SUPPORTED", TransactionFailed: "TRANSACTION_FAILED",
	FlushDiskTimeout: "FLUSH_DISK_TIMEOUT", SlaveNotAvailable: "SLAVE_NOT_AVAILABLE", FlushSlaveTimeout: "FLUSH_SLAVE_TIMEOUT",
	MessageIllegal: "MESSAGE_ILLEGAL", ServiceNotAvailable: "SERVICE_NOT_AVAILABLE", VersionNotSupported: "VERSION_NOT_SUPPORTED",
	NoPermission: "NO_PERMISSION", TopicNotExist: "TOPIC_NOT_EXIST", TopicExistAlready: "TOPIC_EXIST_ALREADY",
	PullNotFound: "PULL_NOT_FOUND", PullRetryImmediately: "PULL_RETRY_IMMEDIATELY", PullOffsetMoved: "PULL_OFFSET_MOVED",
	QueryNotFound: "QUERY_NOT_FOUND", SubscriptionParseFailed: "SUBSCRIPTION_PARSE_FAILED",
	SubscriptionNotExist: "SUBSCRIPTION_NOT_EXIST", SubscriptionNotLatest: "SUBSCRIPTION_NOT_LATEST",
	SubscriptionGroupNotExist: "SUBSCRIPTION_GROUP_NOT_EXIST", FilterDataNotExist: "FILTER_DATA_NOT_EXIST",
	FilterDataNotLatest: "FILTER_DATA_NOT_LATEST", InvalidParameter: "INVALID_PARAMETER",
	TransactionShouldCommit: "TRANSACTION_SHOULD_COMMIT", TransactionShouldRollback: "TRANSACTION_SHOULD_ROLLBACK",
	TransactionStateUnknow: "TRANSACTION_STATE_UNKNOW", TransactionStateGroupWrong: "TRANSACTION_STATE_GROUP_WRONG",
	NoBuyerID: "NO_BUYER_ID", NotInCurrentUnit: "NOT_IN_CURRENT_UNIT", ConsumerNotOnline: "CONSUMER_NOT_ONLINE",
	ConsumeMsgTimeout: "CONSUME_MSG_TIMEOUT", NoMessage: "NO_MESSAGE", PollingFull: "POLLING_FULL",
	PollingTimeout: "POLLING_TIMEOUT", BrokerNotExist: "BROKER_NOT_EXIST", BrokerDispatchNotComplete: "BROKER_DISPATCH_NOT_COMPLETE",
	BroadcastConsumption: "BROADCAST_CONSUMPTION", FlowControl: "FLOW_CONTROL", NotLeaderForQueue: "NOT_LEADER_FOR_QUEUE",
	IllegalOperation: "ILLEGAL_OPERATION", GoAway: "GO_AWAY",
}

// RequestName returns the RequestCode.java name of a request code, or "" if
// the code is not in the table. Request and response codes overlap, so the
// caller picks the table by the command's response flag.
func RequestName(code int32) string { return requestNames[code] }

// ResponseName returns the ResponseCode.java name of a response code, or "".
func ResponseName(code int32) string { return responseNames[code] }

// languages lists LanguageCode.java by ordinal: the ROCKETMQ header carries
// the ordinal, JSON carries the name (docs/rocketmq-protocol.md §1.2).
var languages = [...]string{
	"JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER",
	"HTTP", "GO", "PHP", "OMS", "RUST", "NODE_JS",
}

const languageOther = 7

// languageCode maps a language name to its ordinal; "" means JAVA (the Java
// default) and an unknown name OTHER.
func languageCode(name string) byte {
	if name == "" {
		return 0
	}
	for i, n := range languages {
		if n == name {
			return byte(i)
		}
	}
	return languageOther
}

// languageName maps an ordinal to its name; an unknown ordinal is OTHER.
func languageName(b byte) string {
	if int(b) < len(languages) {
		return languages[b]
	}
	return languages[languageOther]
}
