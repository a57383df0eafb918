package groups

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

type fakeTopics map[string]int32

func (f fakeTopics) Partitions(t string) (int32, bool) { n, ok := f[t]; return n, ok }
func (f fakeTopics) Names() []string {
	var out []string
	for t := range f {
		out = append(out, t)
	}
	return out
}

func newTestConsumerGroup() *ConsumerGroup {
	n := 0
	return NewConsumerGroup("g", ConsumerConfig{SessionTimeout: 45 * time.Second, HeartbeatInterval: time.Second,
		NewMemberID: func(string) string { n++; return "gen-" + strconv.Itoa(n) }})
}

func sp(s string) *string { return &s }

// member simulates a KIP-848 client: it owns what the last assignment
// said and reports it on every heartbeat.
type member848 struct {
	id    string
	epoch int32
	owned Assignment
}

func (m *member848) beat(t *testing.T, g *ConsumerGroup, now time.Time, topics TopicSource, sub []string) {
	t.Helper()
	req := ConsumerHeartbeat{MemberID: m.id, MemberEpoch: m.epoch, Owned: cloneAssignment(m.owned), Assignor: sp("uniform")}
	if m.epoch == 0 {
		req.Topics, req.Owned = sub, Assignment{}
	}
	res := g.Heartbeat(now, req, topics)
	if res.Err != nil {
		t.Fatalf("%s heartbeat: %v", m.id, res.Err)
	}
	m.epoch = res.MemberEpoch
	if res.Assignment != nil {
		m.owned = res.Assignment
	}
}

func countOwned(ms ...*member848) (total int, overlap bool) {
	seen := map[tp]bool{}
	for _, m := range ms {
		for t, ps := range m.owned {
			for _, p := range ps {
				if seen[tp{t, p}] {
					overlap = true
				}
				seen[tp{t, p}] = true
				total++
			}
		}
	}
	return total, overlap
}

// TestConsumerGroupReconcile: three members join a 12-partition topic one
// after another; no partition is ever owned twice, and the group settles
// with 4 partitions each at one epoch.
func TestConsumerGroupReconcile(t *testing.T) {
	g := newTestConsumerGroup()
	topics := fakeTopics{"t": 12}
	now := time.Unix(1000, 0)
	ms := []*member848{{id: "a"}, {id: "b"}, {id: "c"}}
	for i := range ms {
		for range 6 {
			for _, m := range ms[:i+1] {
				m.beat(t, g, now, topics, []string{"t"})
				if _, overlap := countOwned(ms...); overlap {
					t.Fatalf("a partition is owned twice: %+v %+v %+v", ms[0].owned, ms[1].owned, ms[2].owned)
				}
			}
			now = now.Add(time.Second)
		}
	}
	total, _ := countOwned(ms...)
	if total != 12 {
		t.Fatalf("owned %d partitions, want 12", total)
	}
	for _, m := range ms {
		if len(m.owned["t"]) != 4 || m.epoch != g.AssignmentEpoch {
			t.Errorf("%s owns %v at epoch %d, want 4 partitions at %d", m.id, m.owned, m.epoch, g.AssignmentEpoch)
		}
	}
	if s := g.StateName(); s != "stable" {
		t.Errorf("state %s, want stable", s)
	}
}

func TestConsumerGroupErrors(t *testing.T) {
	topics := fakeTopics{"t": 3}
	now := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		req  ConsumerHeartbeat
		want error
	}{
		{"unknown member", ConsumerHeartbeat{MemberID: "x", MemberEpoch: 1}, ErrUnknownMemberID},
		{"fenced epoch", ConsumerHeartbeat{MemberID: "a", MemberEpoch: 7}, ErrFencedMemberEpoch},
		{"join without subscription", ConsumerHeartbeat{MemberID: "n", MemberEpoch: 0}, ErrInvalidRequest},
		{"join owning partitions", ConsumerHeartbeat{MemberID: "n", MemberEpoch: 0, Topics: []string{"t"},
			Owned: Assignment{"t": {0}}}, ErrInvalidRequest},
		{"bad assignor", ConsumerHeartbeat{MemberID: "n", MemberEpoch: 0, Topics: []string{"t"}, Assignor: sp("magic")},
			ErrUnsupportedAssignor},
		{"bad regex", ConsumerHeartbeat{MemberID: "n", MemberEpoch: 0, Regex: sp("(")}, ErrInvalidRegex},
		{"leave unknown", ConsumerHeartbeat{MemberID: "x", MemberEpoch: -1}, ErrUnknownMemberID},
		{"unreleased instance", ConsumerHeartbeat{MemberID: "s2", MemberEpoch: 0, Topics: []string{"t"},
			InstanceID: sp("i1")}, ErrUnreleasedInstanceID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestConsumerGroup()
			g.Heartbeat(now, ConsumerHeartbeat{MemberID: "a", Topics: []string{"t"}}, topics)
			g.Heartbeat(now, ConsumerHeartbeat{MemberID: "s1", Topics: []string{"t"}, InstanceID: sp("i1")}, topics)
			if res := g.Heartbeat(now, tc.req, topics); !errors.Is(res.Err, tc.want) {
				t.Fatalf("got %v, want %v", res.Err, tc.want)
			}
			if g.Len() != 2 {
				t.Fatalf("%d members after a bad request, want 2", g.Len())
			}
		})
	}
}

// TestConsumerGroupStaticRejoin: a static member that leaves with epoch -2
// and rejoins under a new member id keeps its partitions and epoch.
func TestConsumerGroupStaticRejoin(t *testing.T) {
	g := newTestConsumerGroup()
	topics := fakeTopics{"t": 4}
	now := time.Unix(1000, 0)
	res := g.Heartbeat(now, ConsumerHeartbeat{MemberID: "m1", Topics: []string{"t"}, InstanceID: sp("i")}, topics)
	if g.Heartbeat(now, ConsumerHeartbeat{MemberID: "m1", MemberEpoch: -2, InstanceID: sp("i")}, topics).Err != nil {
		t.Fatal("static leave failed")
	}
	re := g.Heartbeat(now, ConsumerHeartbeat{MemberID: "m2", Topics: []string{"t"}, InstanceID: sp("i"), Owned: Assignment{}}, topics)
	if re.Err != nil || re.MemberEpoch != res.MemberEpoch || !reflect.DeepEqual(re.Assignment, res.Assignment) {
		t.Fatalf("rejoin: %+v, first join %+v", re, res)
	}
	if g.Heartbeat(now, ConsumerHeartbeat{MemberID: "m1", MemberEpoch: res.MemberEpoch}, topics).Err == nil {
		t.Fatal("the replaced member id still heartbeats")
	}
}

// TestConsumerGroupExpiry: a member that stops heartbeating is dropped
// after the session timeout and its partitions go to the others.
func TestConsumerGroupExpiry(t *testing.T) {
	g := newTestConsumerGroup()
	topics := fakeTopics{"t": 4}
	now := time.Unix(1000, 0)
	a, b := &member848{id: "a"}, &member848{id: "b"}
	for range 4 {
		a.beat(t, g, now, topics, []string{"t"})
		b.beat(t, g, now, topics, []string{"t"})
	}
	if at, ok := g.Deadline(); !ok || !at.Equal(now.Add(45*time.Second)) {
		t.Fatalf("deadline %v %v", at, ok)
	}
	now = now.Add(30 * time.Second)
	a.beat(t, g, now, topics, nil)
	if !g.Tick(now.Add(16 * time.Second)) {
		t.Fatal("b did not expire")
	}
	a.beat(t, g, now.Add(17*time.Second), topics, nil)
	if len(a.owned["t"]) != 4 {
		t.Fatalf("a owns %v after b expired, want all 4", a.owned)
	}
}

func TestAssignors(t *testing.T) {
	subs := subscriptions{"a": {"x": 5, "y": 2}, "b": {"x": 5}, "c": {"x": 5, "y": 2}}
	r := assignRange(subs)
	want := map[string]Assignment{"a": {"x": {0, 1}, "y": {0}}, "b": {"x": {2, 3}}, "c": {"x": {4}, "y": {1}}}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("range: %v, want %v", r, want)
	}
	u := assignUniform(subs, map[string]Assignment{"b": {"x": {0, 1, 2, 3, 4}}})
	n := 0
	for id, a := range u {
		c := len(a["x"]) + len(a["y"])
		if c < 2 || c > 3 {
			t.Errorf("uniform: %s gets %d partitions (%v)", id, c, u)
		}
		n += c
	}
	if n != 7 || len(u["b"]["x"]) < 2 {
		t.Errorf("uniform: %v: want 7 partitions, b keeping two or more of its own", u)
	}
}
