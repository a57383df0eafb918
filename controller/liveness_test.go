package controller

import (
	"slices"
	"testing"
	"time"
)

func TestLiveness(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := NewLiveness(10 * time.Second)
	l.Lead(t0)
	s := twoBrokers(t)
	groups := s.Groups()
	if got := l.NeedElect(groups, t0.Add(5*time.Second)); len(got) != 0 {
		t.Fatalf("elected during grace: %v", got)
	}
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 1, Epoch: 1, MaxOffset: 100}, t0.Add(time.Second))
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 2, Epoch: 1, MaxOffset: 90}, t0.Add(time.Second))
	if got := l.Ranked(&groups[0], t0.Add(2*time.Second)); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("ranked %v", got)
	}
	// An older report keeps the newer position.
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 1, Epoch: 1, MaxOffset: 50}, t0.Add(3*time.Second))
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 2, Epoch: 2, MaxOffset: 1}, t0.Add(12*time.Second))
	now := t0.Add(12 * time.Second)
	if !l.Alive("b", 1, now) || !l.Alive("b", 2, now) {
		t.Fatal("both should be alive")
	}
	if got := l.Ranked(&groups[0], now); !slices.Equal(got, []int64{2, 1}) {
		t.Fatalf("ranked by epoch first: %v", got)
	}
	now = t0.Add(14 * time.Second) // broker 1 silent for 11 s
	if l.Alive("b", 1, now) {
		t.Fatal("broker 1 alive after the timeout")
	}
	if got := l.NeedElect(groups, now); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("need elect %v", got)
	}
	now = t0.Add(30 * time.Second) // everyone silent: nobody to elect
	if got := l.NeedElect(groups, now); len(got) != 0 {
		t.Fatalf("need elect with nobody alive: %v", got)
	}
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 1, Timeout: time.Minute}, now)
	if !l.Alive("b", 1, now.Add(50*time.Second)) {
		t.Fatal("a broker's own heartbeatTimeoutMills is ignored")
	}
}
