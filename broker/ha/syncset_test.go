package ha

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	const gap = 100
	for _, tc := range []struct {
		name      string
		peers     []peer
		written   int64
		end       int64
		minInSync int
		want      decision
	}{
		{"no slaves, min 1: the master alone", nil, 1000, 1000, 1, replicated},
		{"no slaves, min 2", nil, 1000, 1000, 2, notEnough},
		{"one slave behind", []peer{{1, 900}}, 1000, 1000, 1, waitMore},
		{"one slave has it", []peer{{1, 1000}}, 1000, 1000, 2, replicated},
		{"one slave far behind is not in sync", []peer{{1, 800}}, 1000, 1000, 1, replicated},
		{"far behind, min 2", []peer{{1, 800}}, 1000, 1000, 2, notEnough},
		{"two slaves, one behind", []peer{{1, 1000}, {2, 950}}, 1000, 1000, 3, waitMore},
		{"two slaves, both have it", []peer{{1, 1000}, {2, 1000}}, 1000, 990, 3, replicated},
		{"end before acks", []peer{{1, 950}}, 1000, 940, 2, replicated},
	} {
		if got := decide(tc.peers, tc.written, tc.end, gap, tc.minInSync, 0); got != tc.want {
			t.Errorf("%s: decide = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestHighWatermark(t *testing.T) {
	for _, tc := range []struct {
		peers   []peer
		written int64
		want    int64
	}{
		{nil, 500, 500},
		{[]peer{{1, 450}}, 500, 450},
		{[]peer{{1, 450}, {2, 480}}, 500, 450},
		{[]peer{{1, 100}, {2, 480}}, 500, 480}, // slave 1 is out of sync
	} {
		if got := highWatermark(tc.peers, tc.written, 100, 0); got != tc.want {
			t.Errorf("%v written %d: %d, want %d", tc.peers, tc.written, got, tc.want)
		}
	}
}

// TestInSyncReplicas: RocketMQ 5's inSyncReplicas counts replicas that
// hold the append, the master included, whichever slaves they are.
func TestInSyncReplicas(t *testing.T) {
	const gap = 100
	for _, tc := range []struct {
		name            string
		peers           []peer
		end             int64
		acks, minInSync int
		want            decision
		wantHW          int64
	}{
		{"1: the master alone", []peer{{1, 900}, {2, 910}}, 1000, 1, 1, replicated, 1000},
		{"2: one of two slaves has it", []peer{{1, 900}, {2, 1000}}, 1000, 2, 1, replicated, 1000},
		{"2: neither has it", []peer{{1, 900}, {2, 950}}, 1000, 2, 1, waitMore, 950},
		{"3: both needed", []peer{{1, 1000}, {2, 950}}, 1000, 3, 1, waitMore, 950},
		{"3: both have it", []peer{{1, 1000}, {2, 1000}}, 1000, 3, 1, replicated, 1000},
		{"3: one slave only: waits", []peer{{1, 1000}}, 1000, 3, 1, waitMore, 1000},
		{"min 3 with one slave: refused", []peer{{1, 1000}}, 1000, 2, 3, notEnough, 1000},
	} {
		if got := decide(tc.peers, 1000, tc.end, gap, tc.minInSync, tc.acks); got != tc.want {
			t.Errorf("%s: decide = %d, want %d", tc.name, got, tc.want)
		}
		if got := highWatermark(tc.peers, 1000, gap, tc.acks); got != tc.wantHW {
			t.Errorf("%s: high watermark %d, want %d", tc.name, got, tc.wantHW)
		}
	}
}

func TestStartOffset(t *testing.T) {
	const min, written = 1 << 20, 5 << 20
	for _, tc := range []struct {
		name string
		h    Hello
		want int64
		err  string
	}{
		{"empty slave gets everything", Hello{}, min, ""},
		{"empty slave restarted elsewhere", Hello{MinOffset: 3 << 20, WrittenOffset: 3 << 20}, min, ""},
		{"slave continues", Hello{MinOffset: 0, WrittenOffset: 2 << 20}, 2 << 20, ""},
		{"slave up to date", Hello{MinOffset: 0, WrittenOffset: written}, written, ""},
		{"slave ahead", Hello{MinOffset: 0, WrittenOffset: written + 1}, 0, "diverged"},
		{"slave behind retention", Hello{MinOffset: 0, WrittenOffset: min - 1}, 0, "oldest byte"},
	} {
		got, err := startOffset(tc.h, min, written)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, got, err, tc.want)
		}
	}
}

func TestControlledSet(t *testing.T) {
	now := time.Unix(1000, 0)
	members := map[int64]member{
		1: {id: 1, connected: true, acked: 900, caughtUp: now.Add(-time.Second)},
		2: {id: 2, connected: false, acked: 500},
		3: {id: 3, connected: true, acked: 1000, caughtUp: now.Add(-20 * time.Second)},
		4: {id: 4, connected: true, acked: 1000, caughtUp: now},
	}
	for _, tc := range []struct {
		set  []int64
		end  int64
		min  int
		want decision
	}{
		{[]int64{0}, 1000, 1, replicated},
		{[]int64{0}, 1000, 2, notEnough},
		{[]int64{0, 1}, 900, 2, replicated},
		{[]int64{0, 1}, 901, 2, waitMore},
		{[]int64{0, 2}, 100, 1, waitMore}, // a disconnected member is waited for until the controller drops it
		{[]int64{0, 4}, 1000, 2, replicated},
	} {
		if got := decideSet(tc.set, 0, members, tc.end, tc.min); got != tc.want {
			t.Errorf("set %v end %d min %d: %d, want %d", tc.set, tc.end, tc.min, got, tc.want)
		}
	}
	if hw := highWatermarkSet([]int64{0, 1, 2}, 0, members, 1000); hw != 500 {
		t.Errorf("high watermark %d, want 500 (member 2's last offset)", hw)
	}
	got, changed := proposeSet([]int64{0, 1, 2, 3}, 0, members, now, 15*time.Second)
	if !changed || !slices.Equal(got, []int64{0, 1, 4}) {
		t.Errorf("proposal %v %v, want [0 1 4]: 2 is gone, 3 has not caught up for 20 s, 4 caught up", got, changed)
	}
	if got, changed := proposeSet([]int64{0, 1, 4}, 0, members, now, 15*time.Second); changed {
		t.Errorf("a stable set changed: %v", got)
	}
}
