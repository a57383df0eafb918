package sharegroup

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func parts(n map[string]int32) Partitions {
	return func(t string) (int32, bool) { v, ok := n[t]; return v, ok }
}

// TestHeartbeatLifecycle steps two members through join, assignment,
// a topic growing, fencing, leave and expiry, without a clock.
func TestHeartbeatLifecycle(t *testing.T) {
	c := New(Config{SessionTimeout: 10 * time.Second})
	topics := map[string]int32{"t": 2}
	now := time.Unix(1000, 0)
	join := func(id string) Result {
		t.Helper()
		r, err := c.Heartbeat(Heartbeat{Group: "g", MemberID: id, Topics: []string{"t", "missing"}}, parts(topics), now)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := join("a")
	if a.MemberEpoch <= 0 || !slices.Equal(a.Assignment["t"], []int32{0, 1}) || len(a.Assignment) != 1 {
		t.Fatalf("join a: %+v", a)
	}
	b := join("b")
	if !slices.Equal(b.Assignment["t"], []int32{0, 1}) {
		t.Fatalf("b is not given every partition: %+v", b)
	}
	// A's next heartbeat: unchanged assignment, not sent again.
	r, err := c.Heartbeat(Heartbeat{Group: "g", MemberID: "a", MemberEpoch: a.MemberEpoch}, parts(topics), now)
	if err != nil || r.Assignment != nil || r.MemberEpoch != a.MemberEpoch {
		t.Fatalf("steady heartbeat: %+v %v", r, err)
	}
	// The topic grows: a new epoch and assignment.
	topics["t"] = 3
	r, err = c.Heartbeat(Heartbeat{Group: "g", MemberID: "a", MemberEpoch: a.MemberEpoch}, parts(topics), now)
	if err != nil || r.MemberEpoch <= a.MemberEpoch || len(r.Assignment["t"]) != 3 {
		t.Fatalf("after growth: %+v %v", r, err)
	}
	if _, err := c.Heartbeat(Heartbeat{Group: "g", MemberID: "a", MemberEpoch: r.MemberEpoch + 5}, parts(topics), now); !errors.Is(err, ErrFencedEpoch) {
		t.Fatalf("epoch from the future: %v", err)
	}
	if _, err := c.Heartbeat(Heartbeat{Group: "g", MemberID: "zz", MemberEpoch: 3}, parts(topics), now); !errors.Is(err, ErrUnknownMember) {
		t.Fatalf("unknown member: %v", err)
	}
	if _, err := c.Heartbeat(Heartbeat{Group: "g", MemberID: "c"}, parts(topics), now); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("join without topics: %v", err)
	}
	if err := c.Delete("g", now); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete with members: %v", err)
	}
	// b leaves; a goes silent and expires at the next call past the timeout.
	r, err = c.Heartbeat(Heartbeat{Group: "g", MemberID: "b", MemberEpoch: -1}, parts(topics), now)
	if err != nil || r.MemberEpoch != -1 || !slices.Contains(r.Left, "b") {
		t.Fatalf("leave: %+v %v", r, err)
	}
	now = now.Add(11 * time.Second)
	if c.IsMember("g", "a", now) {
		t.Fatal("a did not expire")
	}
	if d, ok := c.Describe("g", now); !ok || len(d.Members) != 0 {
		t.Fatalf("describe: %+v %v", d, ok)
	}
	if err := c.Delete("g", now); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Describe("g", now); ok {
		t.Fatal("deleted group still described")
	}
}
