package kafkaapi_test

import (
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/quota"
)

// aclSeeds are CreateAcls, DescribeAcls and DeleteAcls requests at every
// version the broker serves.
func aclSeeds() []kmsg.Request {
	var reqs []kmsg.Request
	for v := range int16(4) {
		c := kmsg.NewPtrCreateACLsRequest()
		c.Version = v
		for i, pat := range []kmsg.ACLResourcePatternType{3, 4} {
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = 2, "fuzz"+strconv.Itoa(i), pat
			cr.Principal, cr.Host, cr.Operation, cr.PermissionType = "User:alice", "*", 3, 3
			c.Creations = append(c.Creations, cr)
		}
		d := kmsg.NewPtrDescribeACLsRequest()
		d.Version, d.ResourceType, d.ResourcePatternType, d.Operation, d.PermissionType = v, 1, 1, 1, 1
		del := kmsg.NewPtrDeleteACLsRequest()
		del.Version = v
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourceName, f.ResourcePatternType, f.Operation, f.PermissionType = 2, kmsg.StringPtr("fuzz1"), 2, 1, 1
		del.Filters = append(del.Filters, f)
		reqs = append(reqs, c, d, del)
	}
	for v := range int16(2) {
		aq := kmsg.NewPtrAlterClientQuotasRequest()
		aq.Version = v
		e := kmsg.NewAlterClientQuotasRequestEntry()
		ent := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ent.Type, ent.Name = "user", kmsg.StringPtr("alice")
		e.Entity = append(e.Entity, ent)
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = "producer_byte_rate", 1e6
		e.Ops = append(e.Ops, op)
		aq.Entries = append(aq.Entries, e)
		dq := kmsg.NewPtrDescribeClientQuotasRequest()
		dq.Version = v
		comp := kmsg.NewDescribeClientQuotasRequestComponent()
		comp.EntityType, comp.MatchType = "user", 2
		dq.Components = append(dq.Components, comp)
		reqs = append(reqs, aq, dq)
	}
	return reqs
}

// FuzzAuthzFrame is FuzzHandlerFrame with an authorizer and a quota
// store: every key's check (authz*.go) trims or answers arbitrary
// requests of a principal that may do some things and not others, the
// ACL and quota keys store what they are sent, and produces and fetches
// are metered. Invariants: no panic, whole frames or a closed connection,
// and the ACL and quota files always reopen.
func FuzzAuthzFrame(f *testing.F) {
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	for i, r := range aclSeeds() {
		f.Add(fm.AppendRequest(nil, r, int32(i))[4:])
	}
	for _, seed := range handlerSeeds(f) {
		f.Add(seed)
	}
	var panics atomic.Int64
	log := slog.New(panicCounter{testLogger().Handler(), &panics})
	dir := f.TempDir()
	az, err := auth.OpenAuthorizer(dir, auth.Policy{})
	if err != nil {
		f.Fatal(err)
	}
	alice := auth.User("alice")
	if _, err := az.Create([]auth.ACL{
		{Resource: auth.ResourceCluster, Name: auth.ClusterName, Pattern: auth.PatternLiteral, Principal: alice, Host: "*", Operation: auth.OpAlter, Permission: auth.PermissionAllow},
		{Resource: auth.ResourceCluster, Name: auth.ClusterName, Pattern: auth.PatternLiteral, Principal: alice, Host: "*", Operation: auth.OpAlterConfigs, Permission: auth.PermissionAllow},
		{Resource: auth.ResourceTopic, Name: "fuzz", Pattern: auth.PatternLiteral, Principal: alice, Host: "*", Operation: auth.OpRead, Permission: auth.PermissionAllow},
		{Resource: auth.ResourceGroup, Name: "g", Pattern: auth.PatternPrefixed, Principal: alice, Host: "*", Operation: auth.OpAll, Permission: auth.PermissionAllow},
	}); err != nil {
		f.Fatal(err)
	}
	qdir := f.TempDir()
	qs, err := quota.Open(qdir)
	if err != nil {
		f.Fatal(err)
	}
	b := startBrokerWith(f, brokerOpts{groups: true, log: log, authz: az, quotas: qs,
		principals: map[string]auth.Principal{"127.0.0.1": alice}})
	b.createTopic(f, "fuzz", 2)
	health := dial(f, b.addr)
	var rc *rawConn
	f.Fuzz(func(t *testing.T, frame []byte) {
		if rc == nil {
			c, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			rc = &rawConn{t: t, c: c, fmt: kmsg.NewRequestFormatter()}
		}
		if !fuzzFrame(t, rc, frame) {
			_ = rc.c.Close()
			rc = nil
		}
		if n := panics.Load(); n > 0 {
			t.Fatalf("the handler panicked %d times on %x", n, frame)
		}
		health.t = t
		if rc != nil {
			rc.t = t
		}
		health.roundTrip(kmsg.NewPtrApiVersionsRequest())
		if _, err := auth.ReadACLs(dir); err != nil {
			t.Fatalf("acl file: %v", err)
		}
		if _, err := quota.Open(qdir); err != nil {
			t.Fatalf("quota file: %v", err)
		}
	})
}
