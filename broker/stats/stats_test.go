package stats

import (
	"strconv"
	"testing"
	"time"
)

// TestWindows: the minute window spans the last 7 ten-second samples
// (Java's), sums and rates over them, and averages per addition; an
// unknown item is reported absent.
func TestWindows(t *testing.T) {
	tb := New()
	t0 := time.UnixMilli(1_700_000_000_000)
	if _, ok := tb.Get(TopicPutNums, "T"); ok {
		t.Fatal("an item never added exists")
	}
	// 10 messages in 2 sends every 10 s, for 100 s.
	for i := range 10 {
		now := t0.Add(time.Duration(i) * 10 * time.Second)
		tb.Add(TopicPutNums, "T", 6, 1, now)
		tb.Add(TopicPutNums, "T", 4, 1, now)
		tb.Sample(Minute, now.Add(5*time.Second))
	}
	d, ok := tb.Get(TopicPutNums, "T")
	if !ok {
		t.Fatal("no item")
	}
	// The last 7 samples, at 35 s .. 95 s: 60 messages between them in
	// 60 s, 12 sends.
	if d.StatsMinute.Sum != 60 || d.StatsMinute.Tps != 1 || d.StatsMinute.Avgpt != 5 {
		t.Fatalf("minute %+v", d.StatsMinute)
	}
	// No hour or day sample yet but the creation's: nothing in them.
	if d.StatsHour != (Snapshot{}) || d.StatsDay != (Snapshot{}) {
		t.Fatalf("hour %+v, day %+v", d.StatsHour, d.StatsDay)
	}
	tb.Sample(Day, t0.Add(time.Hour))
	if d, _ := tb.Get(TopicPutNums, "T"); d.StatsDay.Sum != 100 || d.StatsDay.Avgpt != 5 {
		t.Fatalf("day %+v", d.StatsDay)
	}
	if Key("T", "g") != "T@g" {
		t.Fatal(Key("T", "g"))
	}
}

// TestMaxKeys: keys past the bound are not recorded.
func TestMaxKeys(t *testing.T) {
	tb := New()
	now := time.Now()
	for i := range MaxKeys + 10 {
		tb.Add(GroupGetNums, strconv.Itoa(i), 1, 1, now)
	}
	if n := len(tb.sets[GroupGetNums]); n != MaxKeys {
		t.Fatalf("%d keys", n)
	}
}

// BenchmarkAdd: what counting costs a send or pull of an existing key.
func BenchmarkAdd(b *testing.B) {
	tb := New()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		tb.Add(TopicPutNums, "T", 1, 1, now)
	}
}
