package delay

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseLevels(t *testing.T) {
	l, err := ParseLevels("")
	if err != nil || l.Max() != 18 || l[0] != time.Second || l[17] != 2*time.Hour || l.String() != DefaultLevels {
		t.Fatalf("default: %v %v", l, err)
	}
	l, err = ParseLevels(" 2s 1m 1d ")
	if err != nil || !reflect.DeepEqual(l, Levels{2 * time.Second, time.Minute, 24 * time.Hour}) {
		t.Fatalf("custom: %v %v", l, err)
	}
	for _, bad := range []string{"1x", "s", "0s", "-1s", "1.5s", "99999999999999h"} {
		if _, err := ParseLevels(bad); !errors.Is(err, ErrLevels) {
			t.Errorf("%q: err %v, want ErrLevels", bad, err)
		}
	}
}

func lookup(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestPlace(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_500)
	nowMs := now.UnixMilli()
	p := Policy{}
	p.Validate()
	cases := []struct {
		name  string
		props map[string]string
		route Route
		topic string
		queue int32
		due   int64
		err   error
	}{
		{"plain", nil, RouteNormal, "T", 3, 0, nil},
		{"level 1", map[string]string{"DELAY": "1"}, RouteLevel, ScheduleTopic, 0, nowMs + 1000, nil},
		{"level 2", map[string]string{"DELAY": "2"}, RouteLevel, ScheduleTopic, 1, nowMs + 5000, nil},
		{"level capped", map[string]string{"DELAY": "99"}, RouteLevel, ScheduleTopic, 17, nowMs + 7_200_000, nil},
		{"level 0", map[string]string{"DELAY": "0"}, RouteNormal, "T", 3, 0, nil},
		{"level -1 (DLQ rewrite)", map[string]string{"DELAY": "-1"}, RouteNormal, "T", 3, 0, nil},
		{"level garbage", map[string]string{"DELAY": "x"}, RouteNormal, "T", 3, 0, ErrBadProperty},
		{"DELAY wins over timer", map[string]string{"DELAY": "1", PropTimerDeliverMs: "9999999999999"}, RouteLevel, ScheduleTopic, 0, nowMs + 1000, nil},
		{"timer abs", map[string]string{PropTimerDeliverMs: "1700000010300"}, RouteTimer, TimerTopic, 0, 1700000010300, nil},
		{"timer abs exact multiple", map[string]string{PropTimerDeliverMs: "1700000010000"}, RouteTimer, TimerTopic, 0, 1700000010000, nil},
		{"timer sec", map[string]string{PropTimerDelaySec: "10"}, RouteTimer, TimerTopic, 0, 1700000010500, nil},
		{"timer ms", map[string]string{PropTimerDelayMs: "2000"}, RouteTimer, TimerTopic, 0, 1700000002500, nil},
		{"sec wins over ms", map[string]string{PropTimerDelaySec: "1", PropTimerDelayMs: "60000"}, RouteTimer, TimerTopic, 0, 1700000001500, nil},
		{"timer past", map[string]string{PropTimerDeliverMs: "5"}, RouteNormal, "T", 3, 0, nil},
		{"timer negative", map[string]string{PropTimerDelayMs: "-5000"}, RouteNormal, "T", 3, 0, nil},
		{"timer huge negative", map[string]string{PropTimerDelaySec: "-9223372036854775807"}, RouteNormal, "T", 3, 0, nil},
		{"timer too far", map[string]string{PropTimerDelaySec: "259201"}, RouteNormal, "T", 3, 0, ErrTimerIllegal},
		{"timer huge", map[string]string{PropTimerDelayMs: "9223372036854775807"}, RouteNormal, "T", 3, 0, ErrTimerIllegal},
		{"timer huge sec", map[string]string{PropTimerDelaySec: "9223372036854775807"}, RouteNormal, "T", 3, 0, ErrTimerIllegal},
		{"timer max", map[string]string{PropTimerDelaySec: "259200"}, RouteTimer, TimerTopic, 0, 1700259200500, nil},
		{"timer garbage", map[string]string{PropTimerDeliverMs: "soon"}, RouteNormal, "T", 3, 0, ErrTimerIllegal},
		{"already through the wheel", map[string]string{PropTimerOutMs: "1", PropTimerDeliverMs: "1700000010300"}, RouteNormal, "T", 3, 0, nil},
	}
	for _, c := range cases {
		pl, err := p.Place(lookup(c.props), "T", 3, now)
		if !errors.Is(err, c.err) || (c.err == nil) != (err == nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			continue
		}
		if pl.Route != c.route || pl.Topic != c.topic || pl.Queue != c.queue || pl.DueMs != c.due {
			t.Errorf("%s: got %+v, want route %d %s/%d due %d", c.name, pl, c.route, c.topic, c.queue, c.due)
		}
	}
}

func apply(props map[string]string, edits []Edit) map[string]string {
	out := map[string]string{}
	for k, v := range props {
		out[k] = v
	}
	for _, e := range edits {
		if e.Delete {
			delete(out, e.Key)
		} else {
			out[e.Key] = e.Value
		}
	}
	return out
}

func TestPlaceAndDeliverProperties(t *testing.T) {
	p := Policy{}
	p.Validate()
	props := map[string]string{"DELAY": "2", "TAGS": "a", PropTimerDelayMs: "5"}
	pl, err := p.Place(lookup(props), "Orders", 2, time.UnixMilli(0))
	if err != nil {
		t.Fatal(err)
	}
	stored := apply(props, pl.Edits)
	want := map[string]string{"DELAY": "2", "TAGS": "a", PropRealTopic: "Orders", PropRealQueueID: "2"}
	if !reflect.DeepEqual(stored, want) {
		t.Fatalf("stored %v, want %v", stored, want)
	}
	topic, q, err := Target(lookup(stored))
	if err != nil || topic != "Orders" || q != 2 {
		t.Fatalf("target %s/%d %v", topic, q, err)
	}
	delivered := apply(stored, DeliveryEdits(RouteLevel))
	want = map[string]string{"TAGS": "a", PropRealTopic: "Orders", PropRealQueueID: "2"}
	if !reflect.DeepEqual(delivered, want) {
		t.Fatalf("delivered %v, want %v", delivered, want)
	}

	timer := map[string]string{PropTimerDeliverMs: "5500"}
	pl, _ = p.Place(lookup(timer), "Orders", 1, time.UnixMilli(0))
	delivered = apply(apply(timer, pl.Edits), DeliveryEdits(RouteTimer))
	want = map[string]string{PropTimerDeliverMs: "5500", PropTimerOutMs: "5500"}
	if !reflect.DeepEqual(delivered, want) {
		t.Fatalf("timer delivered %v, want %v", delivered, want)
	}
	if _, _, err := Target(lookup(map[string]string{PropRealTopic: "x", PropRealQueueID: "-1"})); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("bad REAL_QID: %v", err)
	}
}

// TestPlaceTimerPrecisionRoundsUp: with timerPrecisionMs 1000 a timer is
// due at the next whole second, never before the time asked for.
func TestPlaceTimerPrecisionRoundsUp(t *testing.T) {
	p := Policy{TimerPrecision: time.Second}
	p.Validate()
	now := time.UnixMilli(1_700_000_000_500)
	for asked, want := range map[int64]int64{1700000010300: 1700000011000, 1700000010000: 1700000010000, 1700000010999: 1700000011000} {
		pl, err := p.Place(lookup(map[string]string{PropTimerDeliverMs: itoa(asked)}), "T", 0, now)
		if err != nil || pl.DueMs != want || pl.DueMs < asked {
			t.Errorf("asked %d: due %d (%v), want %d", asked, pl.DueMs, err, want)
		}
	}
}

func TestPlaceTimerDisabled(t *testing.T) {
	p := Policy{TimerDisabled: true}
	p.Validate()
	_, err := p.Place(lookup(map[string]string{PropTimerDelaySec: "5"}), "T", 0, time.Now())
	if !errors.Is(err, ErrTimerDisabled) {
		t.Fatalf("err %v", err)
	}
}

func TestDecideSendBack(t *testing.T) {
	cases := []struct {
		name    string
		req     SendBack
		topic   string
		dlq     bool
		times   int32
		props   map[string]string
		initial map[string]string
	}{
		{
			name:  "first failure, broker decides level",
			req:   SendBack{Group: "g", MaxReconsumeTimes: UseDefaultMaxReconsumeTimes, Topic: "T", ReconsumeTimes: 0, OffsetMsgID: "OFF1"},
			topic: "%RETRY%g", times: 1,
			props: map[string]string{"DELAY": "3", PropRetryTopic: "T", PropOriginMessageID: "OFF1"},
		},
		{
			name:    "second failure keeps RETRY_TOPIC and ORIGIN_MESSAGE_ID",
			req:     SendBack{Group: "g", MaxReconsumeTimes: UseDefaultMaxReconsumeTimes, Topic: "%RETRY%g", ReconsumeTimes: 1, OffsetMsgID: "OFF2"},
			initial: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "OFF1", PropRealTopic: "%RETRY%g"},
			topic:   "%RETRY%g", times: 2,
			props: map[string]string{"DELAY": "4", PropRetryTopic: "T", PropOriginMessageID: "OFF1", PropRealTopic: "%RETRY%g"},
		},
		{
			name:  "level from request",
			req:   SendBack{Group: "g", MaxReconsumeTimes: UseDefaultMaxReconsumeTimes, Topic: "T", ReconsumeTimes: 5, DelayLevel: 1, OffsetMsgID: "O"},
			topic: "%RETRY%g", times: 6,
			props: map[string]string{"DELAY": "1", PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "max reached goes to DLQ without delay",
			req:   SendBack{Group: "g", Topic: "T", ReconsumeTimes: 2, MaxReconsumeTimes: 2, DelayLevel: 1, OffsetMsgID: "O"},
			topic: "%DLQ%g", dlq: true, times: 3,
			initial: map[string]string{"DELAY": "1"},
			props:   map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "default max is 16",
			req:   SendBack{Group: "g", Topic: "T", ReconsumeTimes: 16, MaxReconsumeTimes: -1, OffsetMsgID: "O"},
			topic: "%DLQ%g", dlq: true, times: 17,
			props: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "below default max",
			req:   SendBack{Group: "g", MaxReconsumeTimes: UseDefaultMaxReconsumeTimes, Topic: "T", ReconsumeTimes: 15, OffsetMsgID: "O"},
			topic: "%RETRY%g", times: 16,
			props: map[string]string{"DELAY": "18", PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "max 0 dead-letters the first failure",
			req:   SendBack{Group: "g", Topic: "T", MaxReconsumeTimes: 0, OffsetMsgID: "O"},
			topic: "%DLQ%g", dlq: true, times: 1,
			props: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "max 1 retries once",
			req:   SendBack{Group: "g", Topic: "T", MaxReconsumeTimes: 1, OffsetMsgID: "O"},
			topic: "%RETRY%g", times: 1,
			props: map[string]string{"DELAY": "3", PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:    "max 1 dead-letters the second failure",
			req:     SendBack{Group: "g", Topic: "%RETRY%g", ReconsumeTimes: 1, MaxReconsumeTimes: 1, OffsetMsgID: "O2"},
			initial: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
			topic:   "%DLQ%g", dlq: true, times: 2,
			props: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "max 16 retries the sixteenth failure",
			req:   SendBack{Group: "g", Topic: "T", ReconsumeTimes: 15, MaxReconsumeTimes: 16, OffsetMsgID: "O"},
			topic: "%RETRY%g", times: 16,
			props: map[string]string{"DELAY": "18", PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "below -1 dead-letters, as Java takes the header as given",
			req:   SendBack{Group: "g", Topic: "T", MaxReconsumeTimes: -2, OffsetMsgID: "O"},
			topic: "%DLQ%g", dlq: true, times: 1,
			props: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
		{
			name:  "orderly consumer asks for DLQ",
			req:   SendBack{Group: "g", MaxReconsumeTimes: UseDefaultMaxReconsumeTimes, Topic: "T", DelayLevel: -1, OffsetMsgID: "O"},
			topic: "%DLQ%g", dlq: true, times: 1,
			props: map[string]string{PropRetryTopic: "T", PropOriginMessageID: "O"},
		},
	}
	for _, c := range cases {
		c.req.Props = lookup(c.initial)
		d := DecideSendBack(c.req)
		if d.Topic != c.topic || d.DLQ != c.dlq || d.ReconsumeTimes != c.times {
			t.Errorf("%s: got %+v", c.name, d)
		}
		if got := apply(c.initial, d.Edits); !reflect.DeepEqual(got, c.props) {
			t.Errorf("%s: properties %v, want %v", c.name, got, c.props)
		}
	}
}

func TestDecideRetrySend(t *testing.T) {
	cases := []struct {
		req RetrySend
		dlq string
	}{
		{RetrySend{"T", 99, 2}, ""},
		{RetrySend{"%RETRY%g", 2, 2}, ""},
		{RetrySend{"%RETRY%g", 3, 2}, "%DLQ%g"},
		{RetrySend{"%RETRY%g", 16, UseDefaultMaxReconsumeTimes}, ""},
		{RetrySend{"%RETRY%g", 17, UseDefaultMaxReconsumeTimes}, "%DLQ%g"},
		{RetrySend{"%RETRY%", 17, UseDefaultMaxReconsumeTimes}, ""},
		{RetrySend{"%RETRY%g", 0, 0}, ""},
		{RetrySend{"%RETRY%g", 1, 0}, "%DLQ%g"}, // max 0: the first retry send is over it
		{RetrySend{"%RETRY%g", 1, 1}, ""},
		{RetrySend{"%RETRY%g", 2, 1}, "%DLQ%g"},
	}
	for _, c := range cases {
		dlq, edits, ok := DecideRetrySend(c.req)
		if dlq != c.dlq || ok != (c.dlq != "") || (ok && !reflect.DeepEqual(edits, []Edit{{Key: "DELAY", Value: "-1"}})) {
			t.Errorf("%+v: got %q %v %v", c.req, dlq, edits, ok)
		}
	}
}

// TestLevelDueRoundsUp: a delay level's due time is rounded up to the
// millisecond, never down: a retry sent back 0.4 ms after a delivery must
// not come back 999.6 ms later (seen in the compat tests).
func TestLevelDueRoundsUp(t *testing.T) {
	p := Policy{}
	p.Validate()
	for _, c := range []struct {
		now  time.Time
		want int64
	}{
		{time.UnixMilli(1_700_000_000_500), 1_700_000_001_500},
		{time.UnixMilli(1_700_000_000_500).Add(400 * time.Microsecond), 1_700_000_001_501},
		{time.UnixMilli(1_700_000_000_500).Add(time.Nanosecond), 1_700_000_001_501},
	} {
		pl, err := p.Place(lookup(map[string]string{"DELAY": "1"}), "T", 3, c.now)
		if err != nil || pl.DueMs != c.want {
			t.Errorf("now %v: due %d (%v), want %d", c.now, pl.DueMs, err, c.want)
		}
		if time.UnixMilli(pl.DueMs).Before(c.now.Add(time.Second)) {
			t.Errorf("now %v: due %d before now + 1 s", c.now, pl.DueMs)
		}
	}
}

// TestTimerDueRoundsUp: a relative timer (TIMER_DELAY_MS, TIMER_DELAY_SEC)
// is due no earlier than now plus its delay, whatever the sub-millisecond
// part of now: counted from a truncated now it came due up to 1 ms early.
func TestTimerDueRoundsUp(t *testing.T) {
	p := Policy{}
	p.Validate()
	for _, c := range []struct {
		props map[string]string
		delay time.Duration
	}{
		{map[string]string{PropTimerDelayMs: "1500"}, 1500 * time.Millisecond},
		{map[string]string{PropTimerDelaySec: "2"}, 2 * time.Second},
	} {
		for _, now := range []time.Time{
			time.UnixMilli(1_700_000_000_500),
			time.UnixMilli(1_700_000_000_500).Add(999 * time.Microsecond),
			time.UnixMilli(1_700_000_000_500).Add(time.Nanosecond),
		} {
			pl, err := p.Place(lookup(c.props), "T", 0, now)
			if err != nil || pl.Route != RouteTimer {
				t.Fatalf("%v at %v: %+v %v", c.props, now, pl, err)
			}
			if time.UnixMilli(pl.DueMs).Before(now.Add(c.delay)) {
				t.Errorf("%v at %v: due %d, before now + %v", c.props, now, pl.DueMs, c.delay)
			}
		}
	}
}
