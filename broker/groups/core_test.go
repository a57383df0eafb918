package groups

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// harness drives one core and records the replies, as the coordinator
// does, without goroutines or clocks.
type harness struct {
	t        *testing.T
	g        *Group
	now      time.Time
	tok      Token
	joins    map[Token]JoinResult
	syncs    map[Token]SyncResult
	persists int
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	n := 0
	cfg := Config{
		MinSessionTimeout: time.Second, MaxSessionTimeout: time.Hour,
		NewMemberID: func(c string) string { n++; return fmt.Sprintf("%s-%d", c, n) },
	}
	if mod != nil {
		mod(&cfg)
	}
	return &harness{t: t, g: New("g", cfg), now: time.Unix(1000, 0), joins: map[Token]JoinResult{}, syncs: map[Token]SyncResult{}}
}

func (h *harness) collect(r Ready) {
	for _, j := range r.Joins {
		if _, dup := h.joins[j.Token]; dup {
			h.t.Fatalf("join token %d answered twice", j.Token)
		}
		h.joins[j.Token] = j.Result
	}
	for _, s := range r.Syncs {
		if _, dup := h.syncs[s.Token]; dup {
			h.t.Fatalf("sync token %d answered twice", s.Token)
		}
		h.syncs[s.Token] = s.Result
	}
	if r.Persist {
		h.persists++
	}
}

func (h *harness) join(req JoinRequest) Token {
	h.tok++
	if req.ProtocolType == "" {
		req.ProtocolType = "consumer"
	}
	if req.Protocols == nil {
		req.Protocols = []Protocol{{"range", []byte("m")}}
	}
	if req.SessionTimeout == 0 {
		req.SessionTimeout = 10 * time.Second
	}
	h.collect(h.g.Join(h.now, h.tok, req))
	return h.tok
}

func (h *harness) sync(req SyncRequest) Token {
	h.tok++
	h.collect(h.g.Sync(h.now, h.tok, req))
	return h.tok
}

func (h *harness) advance(d time.Duration) {
	h.now = h.now.Add(d)
	h.collect(h.g.Tick(h.now))
}

// joined returns a parked or answered join's result, failing if pending.
func (h *harness) joined(tok Token) JoinResult {
	h.t.Helper()
	r, ok := h.joins[tok]
	if !ok {
		h.t.Fatalf("join %d not answered", tok)
	}
	return r
}

// newMember joins a dynamic member through MEMBER_ID_REQUIRED (v4+) and
// returns its id and the token of the second join.
func (h *harness) newMember(client string) (string, Token) {
	h.t.Helper()
	r := h.joined(h.join(JoinRequest{ClientID: client, RequireKnownMemberID: true}))
	if !errors.Is(r.Err, ErrMemberIDRequired) || r.MemberID == "" {
		h.t.Fatalf("first join = %+v, want MEMBER_ID_REQUIRED with an id", r)
	}
	return r.MemberID, h.join(JoinRequest{MemberID: r.MemberID, ClientID: client, RequireKnownMemberID: true})
}

func TestTwoMembersRebalance(t *testing.T) {
	h := newHarness(t, nil)
	a, ta := h.newMember("a")
	ra := h.joined(ta)
	if ra.Err != nil || ra.Generation != 1 || ra.Leader != a || len(ra.Members) != 1 || ra.Protocol != "range" {
		t.Fatalf("a's join = %+v", ra)
	}
	if h.g.State != CompletingRebalance {
		t.Fatalf("state %v", h.g.State)
	}
	s := h.syncs[h.sync(SyncRequest{MemberID: a, Generation: 1, Assignments: map[string][]byte{a: []byte("all")}})]
	if s.Err != nil || string(s.Assignment) != "all" || h.g.State != Stable || h.persists != 1 {
		t.Fatalf("sync = %+v, state %v, persists %d", s, h.g.State, h.persists)
	}

	b, tb := h.newMember("b")
	if _, ok := h.joins[tb]; ok || h.g.State != PreparingRebalance {
		t.Fatalf("b's join answered before a rejoined (state %v)", h.g.State)
	}
	if err := h.g.Heartbeat(h.now, HeartbeatRequest{MemberID: a, Generation: 1}); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("a's heartbeat = %v, want REBALANCE_IN_PROGRESS", err)
	}
	ta = h.join(JoinRequest{MemberID: a, ClientID: "a"})
	ra, rb := h.joined(ta), h.joined(tb)
	if ra.Generation != 2 || rb.Generation != 2 || ra.Leader != a || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("gen 2 joins: a=%+v b=%+v", ra, rb)
	}
	sb := h.sync(SyncRequest{MemberID: b, Generation: 2})
	if _, ok := h.syncs[sb]; ok {
		t.Fatal("follower's sync answered before the leader's")
	}
	sa := h.sync(SyncRequest{MemberID: a, Generation: 2, Assignments: map[string][]byte{a: []byte("p0"), b: []byte("p1")}})
	if string(h.syncs[sa].Assignment) != "p0" || string(h.syncs[sb].Assignment) != "p1" {
		t.Fatalf("assignments a=%+v b=%+v", h.syncs[sa], h.syncs[sb])
	}
	for _, id := range []string{a, b} {
		if err := h.g.Heartbeat(h.now, HeartbeatRequest{MemberID: id, Generation: 2}); err != nil {
			t.Fatalf("heartbeat %s: %v", id, err)
		}
	}
	// b leaves: a learns through its heartbeat and is alone in gen 3.
	errs, r := h.g.Leave(h.now, []LeaveMember{{MemberID: b}})
	h.collect(r)
	if errs[0] != nil || h.g.State != PreparingRebalance {
		t.Fatalf("leave: %v, state %v", errs, h.g.State)
	}
	ra = h.joined(h.join(JoinRequest{MemberID: a, ClientID: "a"}))
	if ra.Generation != 3 || len(ra.Members) != 1 {
		t.Fatalf("gen 3 join %+v", ra)
	}
}

func TestJoinErrors(t *testing.T) {
	tests := []struct {
		name string
		req  JoinRequest
		want error
	}{
		{"unknown member", JoinRequest{MemberID: "nobody"}, ErrUnknownMemberID},
		{"session too short", JoinRequest{SessionTimeout: time.Millisecond}, ErrInvalidSessionTimeout},
		{"session too long", JoinRequest{SessionTimeout: 2 * time.Hour}, ErrInvalidSessionTimeout},
		{"other protocol type", JoinRequest{ProtocolType: "connect"}, ErrInconsistentProtocol},
		{"no common protocol", JoinRequest{Protocols: []Protocol{{Name: "roundrobin"}}}, ErrInconsistentProtocol},
		{"no protocols", JoinRequest{Protocols: []Protocol{}}, ErrInconsistentProtocol},
		{"fenced instance", JoinRequest{MemberID: "x", InstanceID: "i1"}, ErrFencedInstanceID},
		{"full", JoinRequest{ClientID: "c"}, ErrGroupMaxSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.MaxSize = 2 })
			h.join(JoinRequest{ClientID: "s", InstanceID: "i1"})
			h.join(JoinRequest{ClientID: "d"})
			before := h.g.Generation
			r := h.joined(h.join(tt.req))
			if !errors.Is(r.Err, tt.want) {
				t.Fatalf("err %v, want %v", r.Err, tt.want)
			}
			if h.g.Generation != before || h.g.Len() != 2 {
				t.Fatalf("a rejected join changed the group: gen %d, %d members", h.g.Generation, h.g.Len())
			}
		})
	}
}

func TestMemberCallErrors(t *testing.T) {
	h := newHarness(t, nil)
	a, ta := h.newMember("a")
	h.joined(ta)
	tests := []struct {
		name string
		hb   HeartbeatRequest
		want error
	}{
		{"ok while completing", HeartbeatRequest{MemberID: a, Generation: 1}, nil},
		{"stale generation", HeartbeatRequest{MemberID: a, Generation: 0}, ErrIllegalGeneration},
		{"unknown", HeartbeatRequest{MemberID: "z", Generation: 1}, ErrUnknownMemberID},
	}
	for _, tt := range tests {
		if err := h.g.Heartbeat(h.now, tt.hb); !errors.Is(err, tt.want) {
			t.Errorf("%s: heartbeat %v, want %v", tt.name, err, tt.want)
		}
		s := h.syncs[h.sync(SyncRequest{MemberID: tt.hb.MemberID, Generation: tt.hb.Generation, Protocol: "x"})]
		want := tt.want
		if want == nil {
			want = ErrInconsistentProtocol
		}
		if !errors.Is(s.Err, want) {
			t.Errorf("%s: sync %v, want %v", tt.name, s.Err, want)
		}
	}
	if err := h.g.ValidateCommit(h.now, a, "", 1); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("commit while completing: %v", err)
	}
	if err := h.g.ValidateCommit(h.now, "", "", -1); !errors.Is(err, ErrRebalanceInProgress) {
		t.Fatalf("simple commit into a live group: %v", err)
	}
	h.sync(SyncRequest{MemberID: a, Generation: 1})
	for _, c := range []struct {
		member string
		gen    int32
		want   error
	}{{a, 1, nil}, {a, 0, ErrIllegalGeneration}, {"z", 1, ErrUnknownMemberID}, {"", -1, ErrUnknownMemberID}} {
		if err := h.g.ValidateCommit(h.now, c.member, "", c.gen); !errors.Is(err, c.want) {
			t.Errorf("commit %s/%d: %v, want %v", c.member, c.gen, err, c.want)
		}
	}
	if err := h.g.Kill(); !errors.Is(err, ErrNonEmptyGroup) {
		t.Fatalf("Kill of a Stable group: %v", err)
	}
	if err := New("e", h.g.cfg).ValidateCommit(h.now, "", "", -1); err != nil {
		t.Fatalf("simple commit into an Empty group: %v", err)
	}
}

func TestSelectProtocol(t *testing.T) {
	tests := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"one", [][]string{{"range"}}, "range"},
		{"majority", [][]string{{"range", "rr"}, {"rr", "range"}, {"rr", "range"}}, "rr"},
		{"only common", [][]string{{"sticky", "range"}, {"range"}}, "range"},
		{"tie goes to the leader", [][]string{{"a", "b"}, {"b", "a"}}, "a"},
		{"cooperative first", [][]string{{"cooperative-sticky", "range"}, {"cooperative-sticky", "range"}}, "cooperative-sticky"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// All join within the initial delay, so all vote.
			h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = time.Minute })
			var toks []Token
			for i, names := range tt.members {
				var ps []Protocol
				for _, n := range names {
					ps = append(ps, Protocol{Name: n})
				}
				toks = append(toks, h.join(JoinRequest{ClientID: fmt.Sprint(i), Protocols: ps}))
			}
			h.advance(time.Minute)
			if r := h.joined(toks[0]); r.Protocol != tt.want {
				t.Fatalf("protocol %q, want %q", r.Protocol, tt.want)
			}
		})
	}
}

func TestSessionAndRebalanceTimeouts(t *testing.T) {
	h := newHarness(t, nil)
	a, ta := h.newMember("a")
	h.joined(ta)
	h.sync(SyncRequest{MemberID: a, Generation: 1})
	b, tb := h.newMember("b")
	h.joined(h.join(JoinRequest{MemberID: a, ClientID: "a"}))
	h.joined(tb)
	h.sync(SyncRequest{MemberID: a, Generation: 2})
	h.sync(SyncRequest{MemberID: b, Generation: 2})
	// a heartbeats, b goes silent: at b's session timeout a rebalance
	// starts without b.
	for range 4 {
		h.advance(3 * time.Second)
		if err := h.g.Heartbeat(h.now, HeartbeatRequest{MemberID: a, Generation: h.g.Generation}); err != nil {
			break
		}
	}
	if _, ok := h.g.Member(b); ok || h.g.State != PreparingRebalance {
		t.Fatalf("b still a member (state %v)", h.g.State)
	}
	// a does not rejoin either: the rebalance timeout (= session timeout
	// here) empties the group.
	if at, ok := h.g.Deadline(); !ok || at.Sub(h.now) > 10*time.Second {
		t.Fatalf("deadline %v", at)
	}
	h.advance(10 * time.Second)
	if h.g.State != Empty || h.g.Len() != 0 || h.g.Generation != 3 {
		t.Fatalf("state %v, %d members, gen %d", h.g.State, h.g.Len(), h.g.Generation)
	}
	if _, ok := h.g.Deadline(); ok {
		t.Fatal("an Empty group has a deadline")
	}
}

func TestMemberIDRequiredExpires(t *testing.T) {
	h := newHarness(t, nil)
	r := h.joined(h.join(JoinRequest{ClientID: "a", RequireKnownMemberID: true}))
	h.advance(11 * time.Second)
	r = h.joined(h.join(JoinRequest{MemberID: r.MemberID, ClientID: "a", RequireKnownMemberID: true}))
	if !errors.Is(r.Err, ErrUnknownMemberID) {
		t.Fatalf("join with an expired id: %v", r.Err)
	}
}

func TestInitialRebalanceDelay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.InitialRebalanceDelay = 3 * time.Second })
	t1 := h.join(JoinRequest{ClientID: "a", RebalanceTimeout: time.Minute})
	h.advance(time.Second)
	t2 := h.join(JoinRequest{ClientID: "b", RebalanceTimeout: time.Minute})
	h.advance(2 * time.Second) // t=3s: b arrived, so wait another delay
	if _, ok := h.joins[t1]; ok {
		t.Fatal("join completed although a member arrived during the delay")
	}
	h.advance(3 * time.Second) // t=6s
	r1, r2 := h.joined(t1), h.joined(t2)
	if r1.Generation != 1 || r2.Generation != 1 || len(r1.Members) != 2 {
		t.Fatalf("joins %+v %+v", r1, r2)
	}
}

func TestStaticMembership(t *testing.T) {
	h := newHarness(t, nil)
	r := h.joined(h.join(JoinRequest{ClientID: "a", InstanceID: "ia"}))
	old := r.MemberID
	h.sync(SyncRequest{MemberID: old, InstanceID: "ia", Generation: 1, Assignments: map[string][]byte{old: []byte("x")}})
	persists := h.persists
	// The instance restarts without its member id: same generation, new
	// id, no rebalance; the leader is told to skip the assignment.
	r = h.joined(h.join(JoinRequest{ClientID: "a", InstanceID: "ia"}))
	if r.Err != nil || r.MemberID == old || r.Generation != 1 || !r.SkipAssignment || h.g.State != Stable || h.persists != persists+1 {
		t.Fatalf("static rejoin %+v, state %v", r, h.g.State)
	}
	s := h.syncs[h.sync(SyncRequest{MemberID: r.MemberID, InstanceID: "ia", Generation: 1})]
	if string(s.Assignment) != "x" {
		t.Fatalf("assignment after static rejoin %+v", s)
	}
	if err := h.g.Heartbeat(h.now, HeartbeatRequest{MemberID: old, InstanceID: "ia", Generation: 1}); !errors.Is(err, ErrFencedInstanceID) {
		t.Fatalf("old instance heartbeat: %v", err)
	}
	errs, _ := h.g.Leave(h.now, []LeaveMember{{MemberID: old, InstanceID: "ia"}, {InstanceID: "nope"}, {InstanceID: "ia"}})
	if !errors.Is(errs[0], ErrFencedInstanceID) || !errors.Is(errs[1], ErrUnknownMemberID) || errs[2] != nil {
		t.Fatalf("batch leave errors %v", errs)
	}
	if h.g.State != Empty || h.g.Generation != 2 {
		t.Fatalf("after the last leave: %v gen %d", h.g.State, h.g.Generation)
	}
}

func TestPendingSyncTimeout(t *testing.T) {
	h := newHarness(t, nil)
	a, ta := h.newMember("a")
	h.joined(ta)
	h.sync(SyncRequest{MemberID: a, Generation: 1})
	b, tb := h.newMember("b")
	h.join(JoinRequest{MemberID: a, ClientID: "a"})
	h.joined(tb)
	sb := h.sync(SyncRequest{MemberID: b, Generation: 2})
	// The leader never syncs: after the rebalance timeout b's parked sync
	// gets REBALANCE_IN_PROGRESS and a is dropped.
	h.advance(10 * time.Second)
	if s, ok := h.syncs[sb]; !ok || !errors.Is(s.Err, ErrRebalanceInProgress) {
		t.Fatalf("b's sync %+v %v", s, ok)
	}
	if _, ok := h.g.Member(a); ok {
		t.Fatal("a, which never synced, is still a member")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	h := newHarness(t, nil)
	a, ta := h.newMember("a")
	h.joined(ta)
	h.sync(SyncRequest{MemberID: a, Generation: 1, Assignments: map[string][]byte{a: []byte("asg")}})
	rec := h.g.Record()
	got, err := DecodeRecord(AppendRecord(nil, rec))
	if err != nil {
		t.Fatal(err)
	}
	g := Restore("g", h.g.cfg, got, h.now)
	if g.State != Stable || g.Generation != 1 || g.Leader != a || g.Protocol != "range" {
		t.Fatalf("restored %v gen %d leader %s", g.State, g.Generation, g.Leader)
	}
	m, ok := g.Member(a)
	if !ok || string(m.Assignment) != "asg" || m.SessionTimeout != 10*time.Second || !slices.EqualFunc(m.Protocols, []Protocol{{"range", []byte("m")}}, func(x, y Protocol) bool { return x.Name == y.Name && string(x.Metadata) == string(y.Metadata) }) {
		t.Fatalf("restored member %+v", m)
	}
	if err := g.Heartbeat(h.now, HeartbeatRequest{MemberID: a, Generation: 1}); err != nil {
		t.Fatalf("heartbeat after restore: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, Record{ProtocolType: "consumer", Generation: 3, Protocol: "range", Leader: "a",
		Members: []Member{{ID: "a", InstanceID: "i", SessionTimeout: time.Second, Protocols: []Protocol{{"range", []byte{0, 1}}}, Assignment: []byte{2}}}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := DecodeRecord(b)
		if err != nil {
			return
		}
		again, err := DecodeRecord(AppendRecord(nil, rec))
		if err != nil || len(again.Members) != len(rec.Members) || again.Generation != rec.Generation {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
