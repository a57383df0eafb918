// Package stats keeps RocketMQ's broker statistics (BrokerStatsManager,
// StatsItem): per statistic name and key a running sum and count of
// additions, sampled every 10 s, 10 min and 1 h, from which a minute's,
// an hour's and a day's sum, rate per second and average per addition are
// computed. VIEW_BROKER_STATS_DATA (315) answers them, which is what
// `mqadmin statsAll` and rocketmq-dashboard read (TOPIC_PUT_NUMS by topic,
// GROUP_GET_NUMS by topic@group ...).
//
// Java's windows: the minute is the span of the last 7 ten-second samples,
// the hour of the last 7 ten-minute samples, the day of the last 25 hourly
// samples; a window's sum is its last sample less its first, its tps that
// over the milliseconds between them (times 1000), its avgpt the sum over
// the additions between them. One difference: an item's first sample is
// taken when it is created (a zero), not at the next tick, so a key seen
// for the first time shows in its windows from the next sample on.
//
// The table has no clock and no goroutine of its own (Sample takes the
// time); Run drives it. Keys per name are bounded (MaxKeys): past that,
// new keys are not recorded.
package stats

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Statistic names (Stats.java).
const (
	TopicPutNums  = "TOPIC_PUT_NUMS"  // key: topic
	TopicPutSize  = "TOPIC_PUT_SIZE"  // key: topic
	GroupGetNums  = "GROUP_GET_NUMS"  // key: topic@group
	GroupGetSize  = "GROUP_GET_SIZE"  // key: topic@group
	SndbckPutNums = "SNDBCK_PUT_NUMS" // key: topic@group
	BrokerPutNums = "BROKER_PUT_NUMS" // key: the broker's cluster name
	BrokerGetNums = "BROKER_GET_NUMS" // key: the broker's cluster name
)

// Key is BrokerStatsManager.buildStatsKey(topic, group).
func Key(topic, group string) string { return topic + "@" + group }

// MaxKeys bounds the keys of one statistic name.
const MaxKeys = 100_000

// The windows' sample counts and periods (StatsItem.init).
const (
	minuteSamples, hourSamples, daySamples = 7, 7, 25
	MinutePeriod                           = 10 * time.Second
	HourPeriod                             = 10 * time.Minute
	DayPeriod                              = time.Hour
)

// Snapshot is BrokerStatsItem: one window's figures. The fields are in
// the order Java's fastjson writes them (by name).
type Snapshot struct {
	Avgpt float64 `json:"avgpt"`
	Sum   int64   `json:"sum"`
	Tps   float64 `json:"tps"`
}

// Data is BrokerStatsData, VIEW_BROKER_STATS_DATA's body, fields in
// fastjson's order.
type Data struct {
	StatsDay    Snapshot `json:"statsDay"`
	StatsHour   Snapshot `json:"statsHour"`
	StatsMinute Snapshot `json:"statsMinute"`
}

// sample is CallSnapshot: the running totals at a time (ms).
type sample struct{ value, times, ms int64 }

// item is StatsItem. value and times are added to without a lock; mu
// guards the sample windows.
type item struct {
	value, times atomic.Int64

	mu                sync.Mutex
	minute, hour, day []sample
}

// Table is the statistics. Safe for concurrent use: mu guards sets (an
// item, once made, is never replaced).
type Table struct {
	mu   sync.RWMutex
	sets map[string]map[string]*item
}

// New returns an empty table.
func New() *Table { return &Table{sets: map[string]map[string]*item{}} }

// Add adds value and times to name's item of key (StatsItemSet.addValue),
// creating it with a zero sample at now.
func (t *Table) Add(name, key string, value, times int64, now time.Time) {
	t.mu.RLock()
	it := t.sets[name][key]
	t.mu.RUnlock()
	if it == nil {
		if it = t.create(name, key, now); it == nil {
			return
		}
	}
	it.value.Add(value)
	it.times.Add(times)
}

// create makes name's item of key, or returns nil past MaxKeys.
func (t *Table) create(name, key string, now time.Time) *item {
	t.mu.Lock()
	defer t.mu.Unlock()
	set := t.sets[name]
	if set == nil {
		set = map[string]*item{}
		t.sets[name] = set
	}
	if it := set[key]; it != nil {
		return it
	}
	if len(set) >= MaxKeys {
		return nil
	}
	zero := sample{ms: now.UnixMilli()}
	it := &item{minute: []sample{zero}, hour: []sample{zero}, day: []sample{zero}}
	set[key] = it
	return it
}

// Window names a sampling period.
type Window int

// The windows Sample feeds.
const (
	Minute Window = iota // sampled every MinutePeriod
	Hour                 // every HourPeriod
	Day                  // every DayPeriod
)

// Sample records every item's totals at now in window w
// (samplingInSeconds, samplingInMinutes, samplingInHour).
func (t *Table) Sample(w Window, now time.Time) {
	t.mu.RLock()
	var items []*item
	for _, set := range t.sets {
		for _, it := range set {
			items = append(items, it)
		}
	}
	t.mu.RUnlock()
	ms := now.UnixMilli()
	for _, it := range items {
		s := sample{value: it.value.Load(), times: it.times.Load(), ms: ms}
		it.mu.Lock()
		switch w {
		case Minute:
			it.minute = push(it.minute, s, minuteSamples)
		case Hour:
			it.hour = push(it.hour, s, hourSamples)
		case Day:
			it.day = push(it.day, s, daySamples)
		}
		it.mu.Unlock()
	}
}

// push appends s, keeping the last keep+1 samples (Java removes the first
// once there are more than keep).
func push(l []sample, s sample, keep int) []sample {
	l = append(l, s)
	if len(l) > keep {
		l = append(l[:0], l[len(l)-keep:]...)
	}
	return l
}

// compute is computeStatsData over one window.
func compute(l []sample) Snapshot {
	if len(l) == 0 {
		return Snapshot{}
	}
	first, last := l[0], l[len(l)-1]
	s := Snapshot{Sum: last.value - first.value}
	if d := last.ms - first.ms; d > 0 {
		s.Tps = float64(s.Sum) * 1000 / float64(d)
	}
	if n := last.times - first.times; n > 0 {
		s.Avgpt = float64(s.Sum) / float64(n)
	}
	return s
}

// Get returns name's figures for key, or false when there is no such item
// (Java: SYSTEM_ERROR "The stats <name> <key> not exist").
func (t *Table) Get(name, key string) (Data, bool) {
	t.mu.RLock()
	it := t.sets[name][key]
	t.mu.RUnlock()
	if it == nil {
		return Data{}, false
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return Data{StatsMinute: compute(it.minute), StatsHour: compute(it.hour), StatsDay: compute(it.day)}, true
}

// Run samples the table on Java's schedule (a first sample of each window
// at once, then every period) until ctx ends.
func (t *Table) Run(ctx context.Context) {
	now := time.Now()
	for _, w := range []Window{Minute, Hour, Day} {
		t.Sample(w, now)
	}
	m, h, d := time.NewTicker(MinutePeriod), time.NewTicker(HourPeriod), time.NewTicker(DayPeriod)
	defer m.Stop()
	defer h.Stop()
	defer d.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-m.C:
			t.Sample(Minute, now)
		case now := <-h.C:
			t.Sample(Hour, now)
		case now := <-d.C:
			t.Sample(Day, now)
		}
	}
}
