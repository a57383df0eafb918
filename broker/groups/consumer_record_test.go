package groups

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"
)

// settle848 runs heartbeats of every member until none changes.
func settle848(t *testing.T, g *ConsumerGroup, now time.Time, topics TopicSource, ms ...*member848) {
	t.Helper()
	for range 8 {
		for _, m := range ms {
			m.beat(t, g, now, topics, []string{"t"})
		}
	}
}

func TestConsumerRecordRoundTrip(t *testing.T) {
	g := newTestConsumerGroup()
	topics := fakeTopics{"t": 6}
	now := time.Unix(1000, 0)
	a, b := &member848{id: "a"}, &member848{id: "b"}
	settle848(t, g, now, topics, a, b)
	// A third member leaves b revoking partitions: the record must keep
	// Revoking and the target too.
	c := &member848{id: "c"}
	c.beat(t, g, now, topics, []string{"t"})
	a.beat(t, g, now, topics, []string{"t"})
	rec := g.Record()
	got, err := DecodeConsumerRecord(AppendConsumerRecord(nil, rec))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normRecord(got), normRecord(rec)) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, rec)
	}
	r := RestoreConsumerGroup("g", g.cfg, got, now)
	if !reflect.DeepEqual(normRecord(r.Record()), normRecord(rec)) || r.StateName() != g.StateName() {
		t.Fatalf("restored %+v (%s), want %+v (%s)", r.Record(), r.StateName(), rec, g.StateName())
	}
	// The restored group carries on: the members settle without a new
	// group epoch and without any member rejoining.
	epoch := r.Epoch
	settle848(t, r, now.Add(time.Second), topics, a, b, c)
	if r.Epoch != epoch || r.StateName() != "stable" {
		t.Fatalf("after restore: epoch %d (was %d), state %s", r.Epoch, epoch, r.StateName())
	}
	if n, overlap := countOwned(a, b, c); n != 6 || overlap {
		t.Fatalf("owned %d, overlap %v", n, overlap)
	}
}

// normRecord maps empty assignments to nil (the encoding does not tell
// them apart, and the core treats them alike).
func normRecord(rec ConsumerRecord) ConsumerRecord {
	norm := func(a Assignment) Assignment {
		if len(a) == 0 {
			return nil
		}
		return cloneAssignment(a)
	}
	out := rec
	out.Members = nil
	for _, m := range rec.Members {
		m.Assigned, m.Revoking, m.Target = norm(m.Assigned), norm(m.Revoking), norm(m.Target)
		if len(m.Topics) == 0 {
			m.Topics = nil
		}
		out.Members = append(out.Members, m)
	}
	return out
}

func FuzzDecodeConsumerRecord(f *testing.F) {
	f.Add(AppendConsumerRecord(nil, ConsumerRecord{Epoch: 3, AssignmentEpoch: 3, Assignor: "uniform", SubsKey: "a\x00t\x016\x02",
		Members: []ConsumerMemberRecord{{ID: "a", InstanceID: "i", Epoch: 3, PrevEpoch: 2, RebalanceTimeout: time.Second,
			Topics: []string{"t"}, Assigned: Assignment{"t": {0, 1}}, Revoking: Assignment{"t": {2}}, Target: Assignment{"t": {0, 1}}}}}))
	f.Add([]byte{consumerRecordTag, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeConsumerRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeConsumerRecord(AppendConsumerRecord(nil, rec))
		if err != nil || !reflect.DeepEqual(normRecord(again), normRecord(rec)) {
			t.Fatalf("re-decode: %v", err)
		}
		// A restored group of any decodable record serves a heartbeat.
		g := RestoreConsumerGroup("g", ConsumerConfig{SessionTimeout: time.Second, NewMemberID: func(string) string { return "x" }}, rec, time.Unix(0, 0))
		for _, m := range rec.Members {
			g.Heartbeat(time.Unix(1, 0), ConsumerHeartbeat{MemberID: m.ID, MemberEpoch: m.Epoch, Owned: m.Assigned}, fakeTopics{"t": 4})
		}
		g.Tick(time.Unix(10, 0))
	})
}

// TestCoordinatorConsumerDurable: a KIP-848 group survives a coordinator
// restart; its members heartbeat on with their ids and epochs, get no new
// assignment, and the group epoch stays.
func TestCoordinatorConsumerDurable(t *testing.T) {
	dir := t.TempDir()
	s, offs := openStore(t, dir)
	c := openCoordinator(t, s, offs)
	ctx := context.Background()
	topics := fakeTopics{"t": 4}
	beat := func(c *Coordinator, id string, epoch int32, owned Assignment) ConsumerResult {
		t.Helper()
		req := ConsumerHeartbeat{MemberID: id, MemberEpoch: epoch, ClientID: "cl", Owned: owned}
		if epoch == 0 {
			req.Topics = []string{"t"}
		}
		res := c.ConsumerHeartbeat(ctx, "cg", req, topics)
		if res.Err != nil {
			t.Fatalf("heartbeat %s@%d: %v", id, epoch, res.Err)
		}
		return res
	}
	owned := map[string]Assignment{}
	epochs := map[string]int32{}
	r := beat(c, "", 0, nil)
	ida := r.MemberID
	r = beat(c, "", 0, nil)
	idb := r.MemberID
	for range 6 {
		for _, id := range []string{ida, idb} {
			r := beat(c, id, epochs[id], owned[id])
			epochs[id] = r.MemberEpoch
			if r.Assignment != nil {
				owned[id] = r.Assignment
			}
		}
	}
	before, _ := c.DescribeConsumer("cg")
	if before.State != "stable" {
		t.Fatalf("state %s before the restart", before.State)
	}
	c.Close()
	offs.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, offs = openStore(t, dir)
	defer func() { _ = s.Close() }()
	defer offs.Close()
	c = openCoordinator(t, s, offs)
	defer c.Close()
	after, err := c.DescribeConsumer("cg")
	if err != nil || !reflect.DeepEqual(after, before) {
		t.Fatalf("restored %+v, %v\nwant %+v", after, err, before)
	}
	for _, id := range []string{ida, idb} {
		r := beat(c, id, epochs[id], owned[id])
		if r.MemberEpoch != epochs[id] || r.Assignment != nil {
			t.Fatalf("%s after restart: epoch %d (was %d), assignment %v", id, r.MemberEpoch, epochs[id], r.Assignment)
		}
	}
	// Commits and fetches check the member epoch; a pre-v9 commit from a
	// member is refused as Kafka refuses it.
	cm := []Commit{{Topic: "t", Partition: 0, Offset: 5, LeaderEpoch: -1}}
	for _, tc := range []struct {
		m    CommitMember
		want error
	}{
		{CommitMember{ID: ida, Generation: epochs[ida]}, nil},
		{CommitMember{ID: ida, Generation: epochs[ida] - 1}, ErrStaleMemberEpoch},
		{CommitMember{ID: ida, Generation: epochs[ida], Classic: true}, ErrUnsupportedForConsume},
		{CommitMember{ID: "nobody", Generation: 1}, ErrUnknownMemberID},
		{CommitMember{Generation: -1}, ErrUnknownMemberID},
	} {
		if _, err := c.CommitOffsets(ctx, "cg", tc.m, cm); !errors.Is(err, tc.want) {
			t.Errorf("commit %+v: %v, want %v", tc.m, err, tc.want)
		}
	}
	for _, tc := range []struct {
		id    string
		epoch int32
		want  error
	}{{ida, epochs[ida], nil}, {"", -1, nil}, {ida, epochs[ida] + 1, ErrStaleMemberEpoch}, {"nobody", 1, ErrUnknownMemberID}} {
		if err := c.ValidateFetch("cg", tc.id, tc.epoch); !errors.Is(err, tc.want) {
			t.Errorf("fetch %s@%d: %v, want %v", tc.id, tc.epoch, err, tc.want)
		}
	}
	// Both leave; the group, now empty, is deleted and stays deleted.
	for _, id := range []string{ida, idb} {
		beat(c, id, -1, nil)
	}
	if err := c.Delete(ctx, "cg"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = openCoordinator(t, s, offs)
	if _, err := c.DescribeConsumer("cg"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("deleted group after reopen: %v", err)
	}
}

// TestConsumerJoinDeleteRace: a join racing DeleteGroups either lands in
// the group before the delete (which then fails with NON_EMPTY_GROUP) or
// in a fresh group after it; a member that was told it joined is always
// in a group others can see.
func TestConsumerJoinDeleteRace(t *testing.T) {
	s, offs := openStore(t, t.TempDir())
	defer func() { _ = s.Close() }()
	defer offs.Close()
	c := openCoordinator(t, s, offs)
	defer c.Close()
	ctx := context.Background()
	topics := fakeTopics{"t": 2}
	for i := range 50 {
		// An empty group to delete: one member joins and leaves.
		r := c.ConsumerHeartbeat(ctx, "race", ConsumerHeartbeat{MemberEpoch: 0, Topics: []string{"t"}}, topics)
		c.ConsumerHeartbeat(ctx, "race", ConsumerHeartbeat{MemberID: r.MemberID, MemberEpoch: -1}, topics)
		var wg sync.WaitGroup
		var join ConsumerResult
		var derr error
		wg.Go(func() {
			join = c.ConsumerHeartbeat(ctx, "race", ConsumerHeartbeat{MemberEpoch: 0, Topics: []string{"t"}}, topics)
		})
		wg.Go(func() { derr = c.Delete(ctx, "race") })
		wg.Wait()
		if join.Err != nil {
			t.Fatalf("round %d: join: %v", i, join.Err)
		}
		if derr != nil && !errors.Is(derr, ErrNonEmptyGroup) {
			t.Fatalf("round %d: delete: %v", i, derr)
		}
		d, err := c.DescribeConsumer("race")
		if err != nil || len(d.Members) != 1 || d.Members[0].ID != join.MemberID {
			t.Fatalf("round %d: joined member %s lost: %+v, %v", i, join.MemberID, d, err)
		}
		c.ConsumerHeartbeat(ctx, "race", ConsumerHeartbeat{MemberID: join.MemberID, MemberEpoch: -1}, topics)
	}
}
