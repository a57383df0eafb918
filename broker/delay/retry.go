package delay

import "strings"

// Retry and dead-letter topics (MixAll.getRetryTopic / getDLQTopic, spec
// §6.3).
const (
	RetryPrefix = "%RETRY%"
	DLQPrefix   = "%DLQ%"
	// DefaultMaxReconsumeTimes is SubscriptionGroupConfig.retryMaxTimes.
	DefaultMaxReconsumeTimes = 16
	// UseDefaultMaxReconsumeTimes is the maxReconsumeTimes an adapter
	// passes when the request header has none. Clients mean the same by
	// -1 (the Java and Go consumers' option value for "the default"; both
	// send 16 in its place, but a header of -1 must not dead-letter every
	// message, which Java's broker would do).
	UseDefaultMaxReconsumeTimes = -1
	// RetryQueues and DLQQueues are the queue counts of the topics created
	// on demand (retryQueueNums, DLQ_NUMS_PER_GROUP).
	RetryQueues = 1
	DLQQueues   = 1
)

// RetryTopic and DLQTopic name a group's topics.
func RetryTopic(group string) string { return RetryPrefix + group }

// DLQTopic names a group's dead-letter topic.
func DLQTopic(group string) string { return DLQPrefix + group }

// GroupOfRetry returns the group of a %RETRY% topic.
func GroupOfRetry(topic string) (string, bool) {
	g, ok := strings.CutPrefix(topic, RetryPrefix)
	return g, ok && g != ""
}

// SendBack is a CONSUMER_SEND_MSG_BACK (36) request with the message it
// names (docs/rocketmq-protocol.md §2.8), as the adapter found it.
type SendBack struct {
	Group string
	// Topic is the stored message's topic (a %RETRY% topic for a message
	// that was retried before).
	Topic string
	// Props reads the stored message's properties.
	Props Lookup
	// ReconsumeTimes is the stored message's RECONSUMETIMES.
	ReconsumeTimes int32
	// MaxReconsumeTimes is from the request header:
	// UseDefaultMaxReconsumeTimes when absent or -1. 0 sends the first
	// failure to the DLQ, as Java's broker honours it.
	MaxReconsumeTimes int32
	// DelayLevel is from the request: 0 lets the broker decide
	// (3 + reconsume times), negative sends straight to the DLQ.
	DelayLevel int32
	// OffsetMsgID is the stored message's offsetMsgId, the
	// ORIGIN_MESSAGE_ID of a first retry (Java msgExt.getMsgId()).
	OffsetMsgID string
}

// Decision is what the broker stores for a send-back: a new message with
// the original's body, flag, sysFlag, born timestamp and born host.
type Decision struct {
	// Topic is %RETRY%group or %DLQ%group (created on demand with
	// RetryQueues or DLQQueues queues).
	Topic string
	DLQ   bool
	// ReconsumeTimes is the new message's RECONSUMETIMES.
	ReconsumeTimes int32
	// Edits apply to the original's properties. A retry carries DELAY, so
	// storing it goes through Policy.Place like any delayed send.
	Edits []Edit
}

// DecideSendBack is AbstractSendMessageProcessor.consumerSendMsgBack's
// decision: the DLQ once reconsume times reach the maximum or when the
// request asks for it, with no delay; otherwise the retry topic at the
// requested level, or 3 + reconsume times. RETRY_TOPIC keeps the first
// topic the message failed in; ORIGIN_MESSAGE_ID keeps the first id.
func DecideSendBack(r SendBack) Decision {
	maxTimes := maxReconsumeTimes(r.MaxReconsumeTimes)
	var edits []Edit
	if _, ok := r.Props(PropRetryTopic); !ok {
		edits = append(edits, set(PropRetryTopic, r.Topic))
	}
	if v, ok := r.Props(PropOriginMessageID); !ok || strings.TrimSpace(v) == "" {
		edits = append(edits, set(PropOriginMessageID, r.OffsetMsgID))
	}
	d := Decision{Topic: RetryTopic(r.Group), ReconsumeTimes: r.ReconsumeTimes + 1}
	if r.ReconsumeTimes >= maxTimes || r.DelayLevel < 0 {
		d.Topic, d.DLQ = DLQTopic(r.Group), true
		d.Edits = append(edits, del(PropDelay))
		return d
	}
	level := int64(r.DelayLevel)
	if level == 0 {
		level = 3 + int64(r.ReconsumeTimes)
	}
	d.Edits = append(edits, set(PropDelay, itoa(level)))
	return d
}

// RetrySend is a SEND_MESSAGE (10) to a %RETRY% topic: the Go client's
// fallback when CONSUMER_SEND_MSG_BACK fails (docs/rocketmq-protocol.md §2.4 step 4).
type RetrySend struct {
	Topic             string
	ReconsumeTimes    int32
	MaxReconsumeTimes int32 // header; UseDefaultMaxReconsumeTimes when absent
}

// DecideRetrySend returns the DLQ topic when a retry send is over the
// maximum (reconsumeTimes > max, strictly, as Java's handleRetryAndDLQ):
// the message goes to %DLQ%group queue 0 with DELAY=-1 (no delay). ok is
// false for sends that stay where they are.
func DecideRetrySend(r RetrySend) (dlq string, edits []Edit, ok bool) {
	group, isRetry := GroupOfRetry(r.Topic)
	if !isRetry {
		return "", nil, false
	}
	maxTimes := maxReconsumeTimes(r.MaxReconsumeTimes)
	if r.ReconsumeTimes <= maxTimes {
		return "", nil, false
	}
	return DLQTopic(group), []Edit{set(PropDelay, "-1")}, true
}

// maxReconsumeTimes is the limit a header's value sets. Any value but
// UseDefaultMaxReconsumeTimes is taken as given, as Java's broker takes
// it (AbstractSendMessageProcessor and SendMessageProcessor read the
// header's value whenever it is present): 0 dead-letters at the first
// send-back, and a value below -1 dead-letters every message.
func maxReconsumeTimes(header int32) int32 {
	if header == UseDefaultMaxReconsumeTimes {
		return DefaultMaxReconsumeTimes
	}
	return header
}
