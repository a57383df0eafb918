package groups

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
)

// TestFollowerCoordinator: a slave's coordinator runs no groups (Kafka
// clients are sent to look for the master) but reads the replicated
// offsets; promoted, it restores the master's group so its member's
// heartbeats carry on without a rejoin.
func TestFollowerCoordinator(t *testing.T) {
	ctx := context.Background()
	s, offs := openStore(t, t.TempDir())
	defer s.Close()
	defer offs.Close()
	master := openCoordinator(t, s, offs)
	member, gen := joinSync(t, master, "g", "client")
	if errs, err := master.CommitOffsets(ctx, "g", CommitMember{ID: member, Generation: gen},
		[]Commit{{Topic: "t", Partition: 0, Offset: 42, LeaderEpoch: -1}}); err != nil || errs[0] != nil {
		t.Fatalf("commit: %v %v", errs, err)
	}

	foffs, err := offsets.OpenWith(ctx, s, offsets.Options{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer foffs.Close()
	f, err := Open(ctx, s, foffs, CoordinatorConfig{InitialRebalanceDelay: -1, MinSessionTimeout: time.Second, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hb := HeartbeatRequest{MemberID: member, Generation: gen}
	if err := f.Heartbeat(ctx, "g", hb); !errors.Is(err, ErrCoordinatorNotAvailable) {
		t.Fatalf("heartbeat to a follower: %v, want ErrCoordinatorNotAvailable", err)
	}
	joined := make(chan JoinResult, 1)
	f.Join(ctx, "h", JoinRequest{ClientID: "c", ProtocolType: "consumer", Protocols: []Protocol{{"range", nil}},
		SessionTimeout: 10 * time.Second}, func(r JoinResult) { joined <- r })
	if r := <-joined; !errors.Is(r.Err, ErrCoordinatorNotAvailable) {
		t.Fatalf("join to a follower: %v, want ErrCoordinatorNotAvailable", r.Err)
	}
	if v, ok := f.FetchOffset("g", "t", 0); !ok || v.Offset != 42 {
		t.Fatalf("follower FetchOffset = %+v, %v; want 42", v, ok)
	}
	if err := f.ForgetTopic(ctx, "t"); err != nil {
		t.Fatalf("ForgetTopic on a follower: %v", err)
	}

	master.Close()
	offs.Close()
	if err := f.kv.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := foffs.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if f.Following() {
		t.Fatal("still a follower after Promote")
	}
	if err := f.Heartbeat(ctx, "g", hb); err != nil {
		t.Fatalf("heartbeat after promotion: %v", err)
	}
	d, err := f.Describe(ctx, "g")
	if err != nil || d.State != Stable || d.Generation != gen || len(d.Members) != 1 || d.Members[0].ID != member {
		t.Fatalf("promoted group: %+v, %v", d, err)
	}
}
