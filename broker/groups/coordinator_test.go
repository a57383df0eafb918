package groups

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/storage"
)

// openStore opens a store and the offset table on dir (inside the
// synctest bubble when a test uses one: the store's goroutines must live
// there too).
func openStore(t *testing.T, dir string) (*storage.Store, *offsets.Table) {
	t.Helper()
	ctx := context.Background()
	s, err := storage.Open(ctx, storage.Config{Dir: dir, SegmentSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, offs
}

func openCoordinator(t *testing.T, s *storage.Store, offs *offsets.Table) *Coordinator {
	t.Helper()
	c, err := Open(context.Background(), s, offs, CoordinatorConfig{InitialRebalanceDelay: -1, MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// joinSync runs JoinGroup (through MEMBER_ID_REQUIRED) and SyncGroup for
// a lone member and returns its id and generation.
func joinSync(t *testing.T, c *Coordinator, group, client string) (string, int32) {
	t.Helper()
	ctx := context.Background()
	req := JoinRequest{ClientID: client, ProtocolType: "consumer", Protocols: []Protocol{{"range", nil}},
		SessionTimeout: 10 * time.Second, RequireKnownMemberID: true}
	ch := make(chan JoinResult, 1)
	c.Join(ctx, group, req, func(r JoinResult) { ch <- r })
	r := <-ch
	req.MemberID = r.MemberID
	c.Join(ctx, group, req, func(r JoinResult) { ch <- r })
	r = <-ch
	if r.Err != nil {
		t.Fatalf("join: %v", r.Err)
	}
	sc := make(chan SyncResult, 1)
	c.Sync(ctx, group, SyncRequest{MemberID: r.MemberID, Generation: r.Generation,
		Assignments: map[string][]byte{r.MemberID: []byte("a")}}, func(s SyncResult) { sc <- s })
	if s := <-sc; s.Err != nil || string(s.Assignment) != "a" {
		t.Fatalf("sync: %+v", s)
	}
	return r.MemberID, r.Generation
}

func TestCoordinatorSessionExpiry(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, offs := openStore(t, dir)
		defer s.Close()
		defer offs.Close()
		c := openCoordinator(t, s, offs)
		defer c.Close()
		m, gen := joinSync(t, c, "g", "a")
		for range 5 {
			time.Sleep(5 * time.Second)
			if err := c.Heartbeat(ctx, "g", HeartbeatRequest{MemberID: m, Generation: gen}); err != nil {
				t.Fatalf("heartbeat: %v", err)
			}
		}
		time.Sleep(11 * time.Second) // silent past the session timeout
		synctest.Wait()
		if err := c.Heartbeat(ctx, "g", HeartbeatRequest{MemberID: m, Generation: gen}); !errors.Is(err, ErrUnknownMemberID) {
			t.Fatalf("heartbeat after expiry: %v", err)
		}
		d, err := c.Describe(ctx, "g")
		if err != nil || d.State != Empty || len(d.Members) != 0 {
			t.Fatalf("describe %+v %v", d, err)
		}
	})
}

func TestCoordinatorDurable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, offs := openStore(t, dir)
	c := openCoordinator(t, s, offs)
	m, gen := joinSync(t, c, "g", "a")
	errs, err := c.CommitOffsets(ctx, "g", CommitMember{ID: m, Generation: gen}, []Commit{{Topic: "t", Partition: 0, Offset: 7, LeaderEpoch: 0, Metadata: "md"}})
	if err != nil || errs[0] != nil {
		t.Fatalf("commit: %v %v", err, errs)
	}
	if _, err := c.CommitOffsets(ctx, "g", CommitMember{Generation: -1}, []Commit{{Topic: "t", Offset: 1}}); !errors.Is(err, ErrUnknownMemberID) {
		t.Fatalf("simple commit into a live group: %v", err)
	}
	if _, err := c.CommitOffsets(ctx, "simple", CommitMember{Generation: -1}, []Commit{{Topic: "t", Partition: 1, Offset: 3, LeaderEpoch: -1}}); err != nil {
		t.Fatalf("simple commit: %v", err)
	}
	if _, err := c.CommitOffsets(ctx, "nogroup", CommitMember{ID: "m", Generation: 4}, []Commit{{Topic: "t", Offset: 3}}); !errors.Is(err, ErrIllegalGeneration) {
		t.Fatalf("member commit into no group: %v", err)
	}
	c.Close()
	offs.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, offs = openStore(t, dir)
	defer s.Close()
	defer offs.Close()
	c = openCoordinator(t, s, offs)
	defer c.Close()
	if err := c.Heartbeat(ctx, "g", HeartbeatRequest{MemberID: m, Generation: gen}); err != nil {
		t.Fatalf("heartbeat after restart: %v", err)
	}
	if v, ok := c.FetchOffset("g", "t", 0); !ok || v.Offset != 7 || v.Metadata != "md" || v.LeaderEpoch != 0 {
		t.Fatalf("offset after restart %+v %v", v, ok)
	}
	ls := c.List(ctx, nil)
	if len(ls) != 2 || ls[0].Group != "g" || ls[0].State != Stable || ls[1].Group != "simple" || ls[1].State != Empty {
		t.Fatalf("list %+v", ls)
	}
	if ls := c.List(ctx, []State{Empty}); len(ls) != 1 || ls[0].Group != "simple" {
		t.Fatalf("list Empty %+v", ls)
	}
	if err := c.Delete(ctx, "g"); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("delete of a live group: %v", err)
	}
	if errs, _ := c.Leave(ctx, "g", []LeaveMember{{MemberID: m}}); errs[0] != nil {
		t.Fatalf("leave %v", errs)
	}
	for _, g := range []string{"g", "simple"} {
		if err := c.Delete(ctx, g); err != nil {
			t.Fatalf("delete %s: %v", g, err)
		}
	}
	if err := c.Delete(ctx, "g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if ls := c.List(ctx, nil); len(ls) != 0 {
		t.Fatalf("list after delete %+v", ls)
	}
	if d, _ := c.Describe(ctx, "g"); d.State != Dead {
		t.Fatalf("deleted group is %v", d.State)
	}
}
