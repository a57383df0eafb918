package delay

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Property names (MessageConst.java, docs/rocketmq-protocol.md §3.1). They are RocketMQ message
// properties and, for Kafka producers, record header keys (docs/design.md section 4).
const (
	PropDelay             = "DELAY"
	PropTimerDeliverMs    = "TIMER_DELIVER_MS"
	PropTimerDelaySec     = "TIMER_DELAY_SEC"
	PropTimerDelayMs      = "TIMER_DELAY_MS"
	PropTimerOutMs        = "TIMER_OUT_MS"
	PropRealTopic         = "REAL_TOPIC"
	PropRealQueueID       = "REAL_QID"
	PropRetryTopic        = "RETRY_TOPIC"
	PropOriginMessageID   = "ORIGIN_MESSAGE_ID"
	PropReconsumeTime     = "RECONSUME_TIME"
	PropMaxReconsumeTimes = "MAX_RECONSUME_TIMES"
)

// Topics of the delay services. They are RocketMQ's names, so that tools
// that list them see what they expect.
const (
	// ScheduleTopic holds delay-level messages, queue level-1
	// (TopicValidator.RMQ_SYS_SCHEDULE_TOPIC).
	ScheduleTopic = "SCHEDULE_TOPIC_XXXX"
	// TimerTopic holds timer messages, queue 0 (TimerMessageStore.TIMER_TOPIC).
	TimerTopic = "rmq_sys_wheel_timer"
)

// Errors of the package. The adapters map them to protocol codes in their
// error tables (RocketMQ: ErrTimerIllegal and ErrBadProperty are
// MESSAGE_ILLEGAL 13, ErrTimerDisabled is SYSTEM_ERROR 1).
var (
	ErrLevels          = errors.New("delay: bad messageDelayLevel")
	ErrBadProperty     = errors.New("delay: bad delay property")
	ErrTimerIllegal    = errors.New("delay: timer message illegal")
	ErrTimerDisabled   = errors.New("delay: accurate timer message is not enabled")
	ErrNoTarget        = errors.New("delay: scheduled message without REAL_TOPIC/REAL_QID")
	ErrCorruptProgress = errors.New("delay: corrupt progress record")
	ErrClosed          = errors.New("delay: closed")
)

// Lookup reads one property (or Kafka header) of a message.
type Lookup func(key string) (string, bool)

// Edit is one property change: set Key=Value, or delete Key.
type Edit struct {
	Key    string
	Value  string
	Delete bool
}

func set(k, v string) Edit { return Edit{Key: k, Value: v} }
func del(k string) Edit    { return Edit{Key: k, Delete: true} }
func itoa(n int64) string  { return strconv.FormatInt(n, 10) }
func atoi(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrBadProperty, s)
	}
	return n, nil
}

// Route says where a sent message is stored.
type Route uint8

// The routes.
const (
	RouteNormal Route = iota // its own topic and queue
	RouteLevel               // ScheduleTopic queue level-1
	RouteTimer               // TimerTopic queue 0
)

// Placement is where a sent message goes and how its properties change.
type Placement struct {
	Route Route
	Topic string
	Queue int32
	// Level is the (capped) delay level of RouteLevel.
	Level int
	// DueMs is when a RouteLevel or RouteTimer message is delivered (Unix
	// ms). Store it as the entry's tags code: the services read it from
	// the ConsumeQueue unit (as RocketMQ's tagsCode on SCHEDULE_TOPIC).
	DueMs int64
	// Edits apply, in order, to the message's properties.
	Edits []Edit
}

// Policy holds the delay settings of a broker.
type Policy struct {
	Levels Levels
	// TimerDisabled refuses timer messages (timerWheelEnable=false).
	TimerDisabled bool
	// TimerMaxDelay bounds timer delays (timerMaxDelaySec, default 3 days).
	TimerMaxDelay time.Duration
	// TimerPrecision is the timer rounding (timerPrecisionMs). twinmq's
	// default is 1 ms: the wheel fires each timer at its own time, so a
	// coarser precision only makes timers later (never earlier: see round).
	TimerPrecision time.Duration
}

// Defaults of Policy.
const (
	DefaultTimerMaxDelay  = 3 * 24 * time.Hour
	DefaultTimerPrecision = time.Millisecond
)

// Validate fills defaults.
func (p *Policy) Validate() {
	if len(p.Levels) == 0 {
		p.Levels = MustDefault()
	}
	if p.TimerMaxDelay <= 0 {
		p.TimerMaxDelay = DefaultTimerMaxDelay
	}
	if p.TimerPrecision <= 0 {
		p.TimerPrecision = DefaultTimerPrecision
	}
}

// Place decides where a message sent to (topic, queue) is stored, as the
// Java broker's put hooks do (HookUtils.transformDelayLevelMessage and
// checkIfTimerMessage, docs/rocketmq-protocol.md §6.1-6.2): DELAY wins over the timer
// properties; DELAY <= 0 is no delay and a level above the maximum is
// capped; a timer time in the past is stored normally; one further than
// TimerMaxDelay is ErrTimerIllegal. Callers skip Place for prepared
// transaction messages (delayed at commit) and for the internal topics.
func (p *Policy) Place(props Lookup, topic string, queue int32, now time.Time) (Placement, error) {
	normal := Placement{Route: RouteNormal, Topic: topic, Queue: queue}
	if topic == ScheduleTopic || topic == TimerTopic {
		return normal, nil
	}
	if _, ok := props(PropTimerOutMs); ok {
		return normal, nil // already went through the wheel (double check, as Java)
	}
	if v, ok := props(PropDelay); ok {
		n, err := atoi(v)
		if err != nil {
			return normal, err
		}
		if level, ok := p.Levels.Clamp(int(min(max(n, -1), maxLevels+1))); ok {
			return p.placeLevel(topic, queue, level, now), nil
		}
		normal.Edits = timerCleared()
		return normal, nil
	}
	return p.placeTimer(props, topic, queue, now)
}

func timerCleared() []Edit {
	return []Edit{del(PropTimerDeliverMs), del(PropTimerDelaySec), del(PropTimerDelayMs)}
}

func (p *Policy) placeLevel(topic string, queue int32, level int, now time.Time) Placement {
	d, _ := p.Levels.Delay(level)
	edits := append(timerCleared(), set(PropDelay, itoa(int64(level))),
		set(PropRealTopic, topic), set(PropRealQueueID, itoa(int64(queue))))
	return Placement{
		Route: RouteLevel, Topic: ScheduleTopic, Queue: QueueID(level), Level: level,
		DueMs: ceilMs(now.Add(d)), Edits: edits,
	}
}

// placeTimer handles TIMER_DELAY_SEC, TIMER_DELAY_MS (relative, in that
// order of precedence) and TIMER_DELIVER_MS (absolute).
func (p *Policy) placeTimer(props Lookup, topic string, queue int32, now time.Time) (Placement, error) {
	normal := Placement{Route: RouteNormal, Topic: topic, Queue: queue}
	// Rounded up, as a level's due time (ceilMs): a relative timer counted
	// from a truncated now came due up to 1 ms before the time its
	// producer asked for (TestDelayKafkaHeader saw one 71 µs early).
	nowMs := ceilMs(now)
	var deliver int64
	sec, hasSec := props(PropTimerDelaySec)
	ms, hasMs := props(PropTimerDelayMs)
	abs, hasAbs := props(PropTimerDeliverMs)
	if !hasSec && !hasMs && !hasAbs {
		return normal, nil
	}
	if p.TimerDisabled {
		return normal, ErrTimerDisabled
	}
	maxMs := p.TimerMaxDelay.Milliseconds()
	var n int64
	var err error
	switch {
	case hasSec:
		n, err = atoi(sec)
		n = min(max(n, -nowMs/1000-1), maxMs/1000+1) // out of range either way; no overflow
		deliver = nowMs + n*1000
	case hasMs:
		n, err = atoi(ms)
		deliver = nowMs + min(max(n, -nowMs), maxMs+1)
	default:
		deliver, err = atoi(abs)
	}
	if err != nil {
		return normal, fmt.Errorf("%w: %w", ErrTimerIllegal, err)
	}
	if deliver <= nowMs {
		return normal, nil // due already: stored normally, as Java
	}
	if deliver-nowMs > maxMs {
		return normal, fmt.Errorf("%w: the delay time should not be bigger than the max delay %dms", ErrTimerIllegal, maxMs)
	}
	deliver = p.round(deliver)
	return Placement{
		Route: RouteTimer, Topic: TimerTopic, Queue: 0, DueMs: deliver,
		Edits: []Edit{set(PropTimerOutMs, itoa(deliver)), set(PropRealTopic, topic), set(PropRealQueueID, itoa(int64(queue)))},
	}, nil
}

// round applies timerPrecisionMs: UP to a multiple of the precision, so
// that a timer never fires before the time its producer asked for. (Java
// rounds down and fires a slot at its start, so its timers arrive up to one
// precision early; twinmq promises "not before".) ms is at most now +
// TimerMaxDelay here, so the sum cannot overflow.
func (p *Policy) round(ms int64) int64 {
	prec := p.TimerPrecision.Milliseconds()
	if prec <= 1 || ms%prec == 0 {
		return ms
	}
	return (ms/prec + 1) * prec
}

// Target returns the real topic and queue of a scheduled message
// (REAL_TOPIC, REAL_QID).
func Target(props Lookup) (string, int32, error) {
	t, ok1 := props(PropRealTopic)
	q, ok2 := props(PropRealQueueID)
	if !ok1 || !ok2 || t == "" {
		return "", 0, ErrNoTarget
	}
	n, err := strconv.ParseInt(q, 10, 32)
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("%w: REAL_QID %q", ErrNoTarget, q)
	}
	return t, int32(n), nil
}

// DeliveryEdits are the property changes of a due message re-stored to its
// real topic. From a delay level (ScheduleMessageService
// messageTimeUp): DELAY and the timer properties are cleared, REAL_TOPIC
// and REAL_QID stay. From the timer wheel (TimerMessageStore
// convertMessage): REAL_TOPIC and REAL_QID are cleared, TIMER_OUT_MS
// stays (it also stops the message from entering the wheel again).
func DeliveryEdits(r Route) []Edit {
	if r == RouteTimer {
		return []Edit{del(PropRealTopic), del(PropRealQueueID)}
	}
	return append([]Edit{del(PropDelay)}, timerCleared()...)
}

// ceilMs is t in Unix milliseconds rounded up, so a message due at it is
// never delivered before t (rounding down could deliver up to 1 ms early).
func ceilMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}
