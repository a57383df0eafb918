package groups

import (
	"errors"
	"testing"
)

// TestMetadataBounds: oversized protocol metadata is refused at
// JoinGroup, an oversized assignment at the leader's SyncGroup, and
// neither changes the group.
func TestMetadataBounds(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxMemberMetadata = 100; c.MaxRecordSize = 1000 })
	big := h.join(JoinRequest{ClientID: "c", Protocols: []Protocol{{"range", make([]byte, 101)}}})
	if r := h.joins[big]; !errors.Is(r.Err, ErrMetadataTooLarge) || h.g.Len() != 0 {
		t.Fatalf("oversized metadata: %+v, %d members", r, h.g.Len())
	}
	tok := h.join(JoinRequest{ClientID: "c"})
	res := h.joins[tok]
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	s := h.sync(SyncRequest{MemberID: res.MemberID, Generation: res.Generation,
		Assignments: map[string][]byte{res.MemberID: make([]byte, 101)}})
	if r := h.syncs[s]; !errors.Is(r.Err, ErrMetadataTooLarge) || h.g.State != CompletingRebalance {
		t.Fatalf("oversized assignment: %+v in %v", r, h.g.State)
	}
	s = h.sync(SyncRequest{MemberID: res.MemberID, Generation: res.Generation,
		Assignments: map[string][]byte{res.MemberID: []byte("ok")}})
	if r := h.syncs[s]; r.Err != nil || string(r.Assignment) != "ok" || h.g.State != Stable {
		t.Fatalf("sync after a refused one: %+v in %v", r, h.g.State)
	}
}
