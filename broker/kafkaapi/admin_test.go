package kafkaapi_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// versions returns the lowest and the highest version of req's key that
// the broker serves (every key starts at 0).
func versions(req kmsg.Request) []int16 { return []int16{0, req.MaxVersion()} }

// adminRoundTrip sends req at version v and returns its response.
func adminRoundTrip[R kmsg.Response](t *testing.T, c *rawConn, req kmsg.Request, v int16) R {
	t.Helper()
	req.SetVersion(v)
	return c.roundTrip(req).(R)
}

func TestSASLWithoutSASLListener(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrSASLHandshakeRequest()) {
		req := kmsg.NewPtrSASLHandshakeRequest()
		req.Mechanism = "PLAIN"
		resp := adminRoundTrip[*kmsg.SASLHandshakeResponse](t, c, req, v)
		if resp.ErrorCode != 34 || len(resp.SupportedMechanisms) != 0 {
			t.Errorf("v%d: SaslHandshake code %d mechanisms %v, want ILLEGAL_SASL_STATE and none", v, resp.ErrorCode, resp.SupportedMechanisms)
		}
	}
	for _, v := range versions(kmsg.NewPtrSASLAuthenticateRequest()) {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.SASLAuthBytes = []byte("\x00user\x00pass")
		resp := adminRoundTrip[*kmsg.SASLAuthenticateResponse](t, c, req, v)
		if resp.ErrorCode != 34 || resp.ErrorMessage == nil {
			t.Errorf("v%d: SaslAuthenticate code %d message %v, want ILLEGAL_SASL_STATE with a message", v, resp.ErrorCode, resp.ErrorMessage)
		}
	}
}

func TestACLsSecurityDisabled(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrDescribeACLsRequest()) {
		req := kmsg.NewPtrDescribeACLsRequest()
		req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
		req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		if v == 0 {
			req.ResourcePatternType = kmsg.ACLResourcePatternTypeLiteral
		}
		resp := adminRoundTrip[*kmsg.DescribeACLsResponse](t, c, req, v)
		if resp.ErrorCode != 54 || len(resp.Resources) != 0 || resp.ErrorMessage == nil {
			t.Errorf("v%d: DescribeAcls code %d, %d resources, want SECURITY_DISABLED and none", v, resp.ErrorCode, len(resp.Resources))
		}
	}
	for _, v := range versions(kmsg.NewPtrCreateACLsRequest()) {
		req := kmsg.NewPtrCreateACLsRequest()
		for _, name := range []string{"a", "b"} {
			cr := kmsg.NewCreateACLsRequestCreation()
			cr.ResourceType, cr.ResourceName, cr.ResourcePatternType = kmsg.ACLResourceTypeTopic, name, kmsg.ACLResourcePatternTypeLiteral
			cr.Principal, cr.Host = "User:alice", "*"
			cr.Operation, cr.PermissionType = kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
			req.Creations = append(req.Creations, cr)
		}
		resp := adminRoundTrip[*kmsg.CreateACLsResponse](t, c, req, v)
		if len(resp.Results) != 2 || resp.Results[0].ErrorCode != 54 || resp.Results[1].ErrorCode != 54 {
			t.Errorf("v%d: CreateAcls results %+v, want two SECURITY_DISABLED", v, resp.Results)
		}
	}
	for _, v := range versions(kmsg.NewPtrDeleteACLsRequest()) {
		req := kmsg.NewPtrDeleteACLsRequest()
		f := kmsg.NewDeleteACLsRequestFilter()
		f.ResourceType, f.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeLiteral
		f.Operation, f.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
		req.Filters = append(req.Filters, f, f, f)
		resp := adminRoundTrip[*kmsg.DeleteACLsResponse](t, c, req, v)
		if len(resp.Results) != 3 {
			t.Fatalf("v%d: DeleteAcls %d results, want 3", v, len(resp.Results))
		}
		for _, r := range resp.Results {
			if r.ErrorCode != 54 || len(r.MatchingACLs) != 0 {
				t.Errorf("v%d: DeleteAcls result %+v, want SECURITY_DISABLED", v, r)
			}
		}
	}
}

func TestAlterReplicaLogDirs(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "moved", 2)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrAlterReplicaLogDirsRequest()) {
		req := kmsg.NewPtrAlterReplicaLogDirsRequest()
		for _, dir := range []string{b.store.Dir(), "/nowhere"} {
			d := kmsg.NewAlterReplicaLogDirsRequestDir()
			d.Dir = dir
			dt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
			dt.Topic, dt.Partitions = "moved", []int32{0, 7}
			if dir != b.store.Dir() {
				dt.Partitions = []int32{1}
			}
			d.Topics = append(d.Topics, dt)
			req.Dirs = append(req.Dirs, d)
		}
		resp := adminRoundTrip[*kmsg.AlterReplicaLogDirsResponse](t, c, req, v)
		got := map[int32]int16{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				got[p.Partition] = p.ErrorCode
			}
		}
		want := map[int32]int16{0: 0, 7: 3, 1: 57}
		if len(resp.Topics) != 1 || len(got) != 3 || got[0] != want[0] || got[7] != want[7] || got[1] != want[1] {
			t.Errorf("v%d: AlterReplicaLogDirs %v (%d topics), want %v", v, got, len(resp.Topics), want)
		}
	}
}

func TestDelegationTokensNotAllowed(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrCreateDelegationTokenRequest()) {
		req := kmsg.NewPtrCreateDelegationTokenRequest()
		req.MaxLifetimeMillis = -1
		resp := adminRoundTrip[*kmsg.CreateDelegationTokenResponse](t, c, req, v)
		if resp.ErrorCode != 64 || resp.TokenID != "" || resp.ExpiryTimestamp != -1 || resp.PrincipalName != "ANONYMOUS" {
			t.Errorf("v%d: CreateDelegationToken %+v, want DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", v, resp)
		}
	}
	for _, v := range versions(kmsg.NewPtrRenewDelegationTokenRequest()) {
		req := kmsg.NewPtrRenewDelegationTokenRequest()
		req.HMAC, req.RenewTimeMillis = []byte("x"), 1000
		resp := adminRoundTrip[*kmsg.RenewDelegationTokenResponse](t, c, req, v)
		if resp.ErrorCode != 64 || resp.ExpiryTimestamp != -1 {
			t.Errorf("v%d: RenewDelegationToken code %d expiry %d", v, resp.ErrorCode, resp.ExpiryTimestamp)
		}
	}
	for _, v := range versions(kmsg.NewPtrExpireDelegationTokenRequest()) {
		req := kmsg.NewPtrExpireDelegationTokenRequest()
		req.HMAC, req.ExpiryPeriodMillis = []byte("x"), -1
		resp := adminRoundTrip[*kmsg.ExpireDelegationTokenResponse](t, c, req, v)
		if resp.ErrorCode != 64 || resp.ExpiryTimestamp != -1 {
			t.Errorf("v%d: ExpireDelegationToken code %d expiry %d", v, resp.ErrorCode, resp.ExpiryTimestamp)
		}
	}
	for _, v := range versions(kmsg.NewPtrDescribeDelegationTokenRequest()) {
		resp := adminRoundTrip[*kmsg.DescribeDelegationTokenResponse](t, c, kmsg.NewPtrDescribeDelegationTokenRequest(), v)
		if resp.ErrorCode != 64 || len(resp.TokenDetails) != 0 {
			t.Errorf("v%d: DescribeDelegationToken code %d, %d tokens", v, resp.ErrorCode, len(resp.TokenDetails))
		}
	}
}

func TestElectLeaders(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "elect", 2)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrElectLeadersRequest()) {
		req := kmsg.NewPtrElectLeadersRequest()
		for _, name := range []string{"elect", "missing"} {
			rt := kmsg.NewElectLeadersRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0, 1, 2}
			req.Topics = append(req.Topics, rt)
		}
		resp := adminRoundTrip[*kmsg.ElectLeadersResponse](t, c, req, v)
		got := map[string][]int16{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				got[rt.Topic] = append(got[rt.Topic], p.ErrorCode)
			}
		}
		if len(got) != 2 ||
			!equalCodes(got["elect"], 84, 84, 3) || !equalCodes(got["missing"], 3, 3, 3) {
			t.Errorf("v%d: ElectLeaders %v, want elect [84 84 3] missing [3 3 3]", v, got)
		}
		// All partitions: Kafka leaves out those that need no election.
		all := kmsg.NewPtrElectLeadersRequest()
		all.Topics = nil
		if resp := adminRoundTrip[*kmsg.ElectLeadersResponse](t, c, all, v); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("v%d: ElectLeaders of all: code %d, %d topics, want none", v, resp.ErrorCode, len(resp.Topics))
		}
	}
	// Asking about a topic never creates it.
	if _, ok := b.reg.Get("missing"); ok {
		t.Error("ElectLeaders created the topic it was asked about")
	}
	bad := kmsg.NewPtrElectLeadersRequest()
	bad.ElectionType = 7
	if resp := adminRoundTrip[*kmsg.ElectLeadersResponse](t, c, bad, 2); resp.ErrorCode != 42 {
		t.Errorf("ElectLeaders type 7: code %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

func equalCodes(got []int16, want ...int16) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestPartitionReassignments(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "placed", 1)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrAlterPartitionAssignmentsRequest()) {
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = "placed"
		move := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		move.Partition, move.Replicas = 0, []int32{2}
		cancel := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		cancel.Partition, cancel.Replicas = 0, nil
		missing := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		missing.Partition, missing.Replicas = 4, []int32{1}
		rt.Partitions = append(rt.Partitions, move, cancel, missing)
		req.Topics = append(req.Topics, rt)
		resp := adminRoundTrip[*kmsg.AlterPartitionAssignmentsResponse](t, c, req, v)
		var got []int16
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				got = append(got, p.ErrorCode)
			}
		}
		if resp.ErrorCode != 0 || !equalCodes(got, 39, 85, 3) {
			t.Errorf("v%d: AlterPartitionReassignments code %d partitions %v, want [39 85 3]", v, resp.ErrorCode, got)
		}
	}
	for _, v := range versions(kmsg.NewPtrListPartitionReassignmentsRequest()) {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		lt := kmsg.NewListPartitionReassignmentsRequestTopic()
		lt.Topic, lt.Partitions = "placed", []int32{0}
		req.Topics = append(req.Topics, lt)
		resp := adminRoundTrip[*kmsg.ListPartitionReassignmentsResponse](t, c, req, v)
		if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("v%d: ListPartitionReassignments code %d, %d topics, want none", v, resp.ErrorCode, len(resp.Topics))
		}
	}
}

func TestClientQuotas(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrDescribeClientQuotasRequest()) {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		comp := kmsg.NewDescribeClientQuotasRequestComponent()
		comp.EntityType, comp.MatchType = "user", 2
		req.Components = append(req.Components, comp)
		resp := adminRoundTrip[*kmsg.DescribeClientQuotasResponse](t, c, req, v)
		if resp.ErrorCode != 0 || len(resp.Entries) != 0 {
			t.Errorf("v%d: DescribeClientQuotas code %d, %d entries, want none", v, resp.ErrorCode, len(resp.Entries))
		}
		for _, bad := range []kmsg.DescribeClientQuotasRequestComponent{
			{EntityType: "user", MatchType: 9},
			{EntityType: "user", MatchType: 0}, // exact without a name
		} {
			req := kmsg.NewPtrDescribeClientQuotasRequest()
			req.Components = append(req.Components, bad)
			if resp := adminRoundTrip[*kmsg.DescribeClientQuotasResponse](t, c, req, v); resp.ErrorCode != 42 {
				t.Errorf("v%d: DescribeClientQuotas %+v: code %d, want INVALID_REQUEST", v, bad, resp.ErrorCode)
			}
		}
	}
	for _, v := range versions(kmsg.NewPtrAlterClientQuotasRequest()) {
		req := kmsg.NewPtrAlterClientQuotasRequest()
		e := kmsg.NewAlterClientQuotasRequestEntry()
		ent := kmsg.NewAlterClientQuotasRequestEntryEntity()
		ent.Type, ent.Name = "client-id", kmsg.StringPtr("app")
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = "producer_byte_rate", 1024
		e.Entity, e.Ops = append(e.Entity, ent), append(e.Ops, op)
		req.Entries = append(req.Entries, e)
		resp := adminRoundTrip[*kmsg.AlterClientQuotasResponse](t, c, req, v)
		if len(resp.Entries) != 1 || resp.Entries[0].ErrorCode != 42 || len(resp.Entries[0].Entity) != 1 ||
			resp.Entries[0].Entity[0].Type != "client-id" {
			t.Errorf("v%d: AlterClientQuotas %+v, want the entry refused with INVALID_REQUEST", v, resp.Entries)
		}
		// Nothing was stored.
		d := kmsg.NewPtrDescribeClientQuotasRequest()
		if resp := adminRoundTrip[*kmsg.DescribeClientQuotasResponse](t, c, d, 1); len(resp.Entries) != 0 {
			t.Errorf("v%d: quotas after a refused alter: %+v", v, resp.Entries)
		}
	}
}

func TestUserSCRAMCredentials(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	all := adminRoundTrip[*kmsg.DescribeUserSCRAMCredentialsResponse](t, c, kmsg.NewPtrDescribeUserSCRAMCredentialsRequest(), 0)
	if all.ErrorCode != 0 || len(all.Results) != 0 {
		t.Errorf("DescribeUserScramCredentials of all: code %d, %d results, want none", all.ErrorCode, len(all.Results))
	}
	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, name := range []string{"alice", "bob", "alice"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = name
		req.Users = append(req.Users, u)
	}
	resp := adminRoundTrip[*kmsg.DescribeUserSCRAMCredentialsResponse](t, c, req, 0)
	got := map[string]int16{}
	for _, r := range resp.Results {
		got[r.User] = r.ErrorCode
	}
	if len(resp.Results) != 2 || got["alice"] != 92 || got["bob"] != 91 {
		t.Errorf("DescribeUserScramCredentials %v, want alice DUPLICATE_RESOURCE, bob RESOURCE_NOT_FOUND", got)
	}
	alter := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "alice", 1, 4096, []byte("salt"), []byte("pw")
	del := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
	del.Name, del.Mechanism = "bob", 2
	alter.Upsertions, alter.Deletions = append(alter.Upsertions, up), append(alter.Deletions, del)
	aresp := adminRoundTrip[*kmsg.AlterUserSCRAMCredentialsResponse](t, c, alter, 0)
	if len(aresp.Results) != 2 || aresp.Results[0].ErrorCode != 33 || aresp.Results[1].ErrorCode != 33 {
		t.Errorf("AlterUserScramCredentials %+v, want both refused with UNSUPPORTED_SASL_MECHANISM", aresp.Results)
	}
}

// TestApiVersionsGuess checks the key set franz-go's kversion maps to a
// Kafka release: kadm and kcl print that guess, and consoles use the same
// kind of key probing to decide which pages to show.
func TestApiVersionsGuess(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{groups: true})
	c := dial(t, b.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version, req.ClientSoftwareName, req.ClientSoftwareVersion = 3, "test", "1"
	resp := c.roundTrip(req).(*kmsg.ApiVersionsResponse)
	ours := kversion.FromApiVersionsResponse(resp)
	guess := ours.VersionGuess()
	t.Logf("kversion guess: %s", guess)
	for _, old := range []string{"v0.", "v1.", "v2."} {
		if strings.Contains(guess, old) {
			t.Errorf("version guess %q, want a Kafka 3 or later", guess)
		}
	}
	// Every key of Kafka 3.7 that is not broker-to-broker is served at
	// least at 3.7's version.
	interBroker := map[int16]bool{4: true, 5: true, 6: true, 7: true, 27: true, 56: true, 57: true, 58: true, 67: true}
	kversion.V3_7_0().EachMaxKeyVersion(func(k, v int16) {
		if interBroker[k] {
			return
		}
		if got, ok := ours.LookupMaxKeyVersion(k); !ok || got < v {
			t.Errorf("key %d: served up to %d (%v), Kafka 3.7 serves %d", k, got, ok, v)
		}
	})
}

// TestAdvertisedKeysAnswer sends every advertised key at its highest
// version with a default body: each gets a response (no key is advertised
// without a handler that answers it).
func TestAdvertisedKeysAnswer(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{groups: true})
	c := dial(t, b.addr)
	resp := c.roundTrip(kmsg.NewPtrApiVersionsRequest()).(*kmsg.ApiVersionsResponse)
	for _, k := range resp.ApiKeys {
		req := kmsg.RequestForKey(k.ApiKey)
		if req == nil {
			t.Errorf("key %d advertised but unknown to kmsg", k.ApiKey)
			continue
		}
		if k.ApiKey == 0 {
			continue // a default Produce is acks=0, which gets no answer
		}
		req.SetVersion(k.MaxVersion)
		c.roundTrip(req)
	}
}

// adminSeeds are FuzzHandlerFrame seeds of the admin keys (17, 29-31,
// 34, 36, 38-41, 43, 45, 46, 48-51) and of the broker configs and loggers,
// at their highest versions.
func adminSeeds() []kmsg.Request {
	dacl := kmsg.NewPtrDescribeACLsRequest()
	dacl.ResourceType, dacl.ResourcePatternType, dacl.Operation, dacl.PermissionType = 1, 1, 1, 1
	cacl := kmsg.NewPtrCreateACLsRequest()
	cr := kmsg.NewCreateACLsRequestCreation()
	cr.ResourceType, cr.ResourceName, cr.ResourcePatternType, cr.Principal, cr.Host = 2, "fuzz", 3, "User:a", "*"
	cr.Operation, cr.PermissionType = 3, 3
	cacl.Creations = append(cacl.Creations, cr)
	delacl := kmsg.NewPtrDeleteACLsRequest()
	delacl.Filters = append(delacl.Filters, kmsg.NewDeleteACLsRequestFilter())
	ard := kmsg.NewPtrAlterReplicaLogDirsRequest()
	d := kmsg.NewAlterReplicaLogDirsRequestDir()
	d.Dir = "/data"
	dt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
	dt.Topic, dt.Partitions = "fuzz", []int32{0, 1}
	d.Topics = append(d.Topics, dt)
	ard.Dirs = append(ard.Dirs, d)
	el := kmsg.NewPtrElectLeadersRequest()
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = "fuzz", []int32{0, 1}
	el.Topics = append(el.Topics, et)
	apr := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	at := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	at.Topic = "fuzz"
	ap := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
	ap.Replicas = []int32{1, 2}
	at.Partitions = append(at.Partitions, ap)
	apr.Topics = append(apr.Topics, at)
	dq := kmsg.NewPtrDescribeClientQuotasRequest()
	dqc := kmsg.NewDescribeClientQuotasRequestComponent()
	dqc.EntityType, dqc.MatchType, dqc.Match = "user", 0, kmsg.StringPtr("alice")
	dq.Components = append(dq.Components, dqc)
	aq := kmsg.NewPtrAlterClientQuotasRequest()
	aqe := kmsg.NewAlterClientQuotasRequestEntry()
	aqe.Entity = append(aqe.Entity, kmsg.AlterClientQuotasRequestEntryEntity{Type: "user"})
	aqe.Ops = append(aqe.Ops, kmsg.AlterClientQuotasRequestEntryOp{Key: "producer_byte_rate", Value: 1})
	aq.Entries = append(aq.Entries, aqe)
	ds := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	ds.Users = append(ds.Users, kmsg.DescribeUserSCRAMCredentialsRequestUser{Name: "alice"})
	as := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	as.Deletions = append(as.Deletions, kmsg.AlterUserSCRAMCredentialsRequestDeletion{Name: "bob", Mechanism: 1})
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	lg := kmsg.NewPtrDescribeConfigsRequest()
	lg.Resources = append(lg.Resources, kmsg.DescribeConfigsRequestResource{ResourceType: kmsg.ConfigResourceTypeBrokerLogger, ResourceName: "1"},
		kmsg.DescribeConfigsRequestResource{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "1"})
	lga := kmsg.NewPtrIncrementalAlterConfigsRequest()
	lga.Resources = append(lga.Resources, kmsg.IncrementalAlterConfigsRequestResource{ResourceType: kmsg.ConfigResourceTypeBrokerLogger,
		ResourceName: "1", Configs: []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "root", Value: kmsg.StringPtr("DEBUG")}}})
	return []kmsg.Request{hs, lg, lga, dacl, cacl, delacl, ard, kmsg.NewPtrSASLAuthenticateRequest(),
		kmsg.NewPtrCreateDelegationTokenRequest(), kmsg.NewPtrRenewDelegationTokenRequest(),
		kmsg.NewPtrExpireDelegationTokenRequest(), kmsg.NewPtrDescribeDelegationTokenRequest(),
		el, apr, kmsg.NewPtrListPartitionReassignmentsRequest(), dq, aq, ds, as}
}

// TestBrokerConfigsAndLoggers: the broker configs consoles read, with
// Kafka's sources, and the BROKER_LOGGER resource (KIP-412) at the
// logger's level, read-only.
func TestBrokerConfigsAndLoggers(t *testing.T) {
	b := startBroker(t)
	c := dial(t, b.addr)
	for _, v := range versions(kmsg.NewPtrDescribeConfigsRequest()) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		broker := kmsg.NewDescribeConfigsRequestResource()
		broker.ResourceType, broker.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
		loggers := kmsg.NewDescribeConfigsRequestResource()
		loggers.ResourceType, loggers.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		other := loggers
		other.ResourceName = "2"
		req.Resources = append(req.Resources, broker, loggers, other)
		resp := adminRoundTrip[*kmsg.DescribeConfigsResponse](t, c, req, v)
		if len(resp.Resources) != 3 {
			t.Fatalf("v%d: %d resources, want 3", v, len(resp.Resources))
		}
		got := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, cfg := range resp.Resources[0].Configs {
			got[cfg.Name] = cfg
		}
		for name, want := range map[string]string{"delete.topic.enable": "true", "min.insync.replicas": "1",
			"log.dirs": b.store.Dir(), "num.partitions": "1", "default.replication.factor": "1",
			"unclean.leader.election.enable": "false"} {
			cfg, ok := got[name]
			if !ok || *cfg.Value != want || !cfg.ReadOnly {
				t.Errorf("v%d: broker %s = %+v, want %q read-only", v, name, cfg, want)
			}
		}
		if v > 0 {
			if s := got["delete.topic.enable"].Source; s != kmsg.ConfigSourceDefaultConfig {
				t.Errorf("v%d: delete.topic.enable source %v, want DEFAULT_CONFIG", v, s)
			}
			if s := got["log.dirs"].Source; s != kmsg.ConfigSourceStaticBrokerConfig {
				t.Errorf("v%d: log.dirs source %v, want STATIC_BROKER_CONFIG", v, s)
			}
		} else if !got["delete.topic.enable"].IsDefault || got["log.dirs"].IsDefault {
			t.Errorf("v0: delete.topic.enable default %v, log.dirs default %v", got["delete.topic.enable"].IsDefault, got["log.dirs"].IsDefault)
		}
		lg := map[string]string{}
		for _, cfg := range resp.Resources[1].Configs {
			lg[cfg.Name] = *cfg.Value
			if !cfg.ReadOnly {
				t.Errorf("v%d: logger %s not read-only", v, cfg.Name)
			}
		}
		// testLogger logs errors only, unless TWINMQ_TEST_DEBUG.
		if resp.Resources[1].ErrorCode != 0 || len(lg) != 1 || (lg["root"] != "ERROR" && lg["root"] != "DEBUG") {
			t.Errorf("v%d: loggers code %d %v, want root at the test logger's level", v, resp.Resources[1].ErrorCode, lg)
		}
		if resp.Resources[2].ErrorCode != 42 || len(resp.Resources[2].Configs) != 0 {
			t.Errorf("v%d: loggers of broker 2 on broker 1: code %d, want INVALID_REQUEST", v, resp.Resources[2].ErrorCode)
		}
	}
	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	ar := kmsg.NewIncrementalAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	ar.Configs = append(ar.Configs, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "root", Value: kmsg.StringPtr("DEBUG")})
	alter.Resources = append(alter.Resources, ar)
	if resp := adminRoundTrip[*kmsg.IncrementalAlterConfigsResponse](t, c, alter, 1); resp.Resources[0].ErrorCode != 42 {
		t.Errorf("IncrementalAlterConfigs of a logger without a level to change: code %d, want INVALID_REQUEST", resp.Resources[0].ErrorCode)
	}
}

// TestBrokerLoggerLevel: with Config.LogLevel, IncrementalAlterConfigs
// changes the root logger's level at run time (as kafka-configs
// --entity-type broker-loggers does), DELETE restores the startup level,
// and bad input changes nothing.
func TestBrokerLoggerLevel(t *testing.T) {
	level := new(slog.LevelVar)
	level.Set(slog.LevelError)
	b := startBrokerWith(t, brokerOpts{level: level})
	c := dial(t, b.addr)
	root := func() kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		req.Resources = append(req.Resources, res)
		resp := adminRoundTrip[*kmsg.DescribeConfigsResponse](t, c, req, 4)
		if len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 {
			t.Fatalf("loggers: %+v", resp.Resources)
		}
		return resp.Resources[0].Configs[0]
	}
	alter := func(name string, validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) int16 {
		t.Helper()
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.Configs = kmsg.ConfigResourceTypeBrokerLogger, name, ops
		req.Resources = append(req.Resources, res)
		return adminRoundTrip[*kmsg.IncrementalAlterConfigsResponse](t, c, req, 1).Resources[0].ErrorCode
	}
	set := func(name, v string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
		return kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: name, Op: kmsg.IncrementalAlterConfigOpSet, Value: kmsg.StringPtr(v)}
	}
	if r := root(); *r.Value != "ERROR" || r.ReadOnly || r.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("root at start: %+v, want ERROR, writable, STATIC_BROKER_CONFIG", r)
	}
	for _, bad := range []struct {
		name string
		ops  []kmsg.IncrementalAlterConfigsRequestResourceConfig
		code int16
	}{
		{"1", []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("root", "LOUD")}, 40},
		{"1", []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("root", "DEBUG"), set("kafka.server", "DEBUG")}, 40},
		{"1", []kmsg.IncrementalAlterConfigsRequestResourceConfig{{Name: "root", Op: kmsg.IncrementalAlterConfigOpAppend, Value: kmsg.StringPtr("DEBUG")}}, 40},
		{"2", []kmsg.IncrementalAlterConfigsRequestResourceConfig{set("root", "DEBUG")}, 42},
	} {
		if code := alter(bad.name, false, bad.ops...); code != bad.code {
			t.Errorf("alter %s %+v: code %d, want %d", bad.name, bad.ops, code, bad.code)
		}
	}
	if code := alter("1", true, set("root", "DEBUG")); code != 0 || level.Level() != slog.LevelError {
		t.Errorf("validate-only: code %d, level %v, want 0 and no change", code, level.Level())
	}
	if code := alter("1", false, set("root", "DEBUG")); code != 0 || level.Level() != slog.LevelDebug {
		t.Fatalf("set root DEBUG: code %d, level %v", code, level.Level())
	}
	if r := root(); *r.Value != "DEBUG" || r.Source != kmsg.ConfigSourceDynamicBrokerLoggerConfig {
		t.Errorf("root after the change: %+v, want DEBUG from DYNAMIC_BROKER_LOGGER_CONFIG", r)
	}
	if code := alter("1", false, kmsg.IncrementalAlterConfigsRequestResourceConfig{Name: "root", Op: kmsg.IncrementalAlterConfigOpDelete}); code != 0 ||
		level.Level() != slog.LevelError {
		t.Errorf("delete root: code %d, level %v, want the startup level back", code, level.Level())
	}
}
