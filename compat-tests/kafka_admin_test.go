package compattests

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaAdminPagesKadm drives the admin keys that consoles (kafka-ui,
// AKHQ, Redpanda Console, Conduktor) send through franz-go's kadm, as
// they reach a broker with the group and transaction coordinators: each
// call gets the answer a Kafka broker without an authorizer, quotas, SCRAM
// users or reassignments gives, and kadm's version guess is a recent Kafka.
func TestKafkaAdminPagesKadm(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "admin-pages", 2, nil)
	cl := kgoClient(t, b.addr)
	adm := kadm.NewClient(cl)
	ctx := context.Background()

	vs, err := adm.ApiVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vs.Each(func(v kadm.BrokerApiVersions) {
		guess := v.VersionGuess()
		t.Logf("node %d: kadm version guess %q", v.NodeID, guess)
		if v.Err != nil || strings.Contains(guess, "v0.") || strings.Contains(guess, "v1.") || strings.Contains(guess, "v2.") {
			t.Errorf("node %d: version guess %q (err %v), want Kafka 3 or later", v.NodeID, guess, v.Err)
		}
	})

	// ACLs: SECURITY_DISABLED, as Kafka without an authorizer.
	described, err := adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations().ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatal(err)
	}
	if len(described) == 0 || !errors.Is(described[0].Err, kerr.SecurityDisabled) {
		t.Errorf("DescribeACLs %+v, want SECURITY_DISABLED", described)
	}
	created, err := adm.CreateACLs(ctx, kadm.NewACLs().Topics("admin-pages").Allow("User:alice").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	if len(created) != 1 || !errors.Is(created[0].Err, kerr.SecurityDisabled) {
		t.Errorf("CreateACLs %+v, want SECURITY_DISABLED", created)
	}

	// Reassignments: none in progress.
	reassign, err := adm.ListPartitionReassignments(ctx, nil)
	if err != nil || len(reassign) != 0 {
		t.Errorf("ListPartitionReassignments %v, %v, want none", reassign, err)
	}
	altered, err := adm.AlterPartitionAssignments(ctx, kadm.AlterPartitionAssignmentsReq{"admin-pages": {0: {7}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := altered["admin-pages"][0]; !errors.Is(r.Err, kerr.InvalidReplicaAssignment) {
		t.Errorf("AlterPartitionAssignments %+v, want INVALID_REPLICA_ASSIGNMENT", r)
	}

	// Quotas: none stored, and none can be.
	quotas, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kmsg.QuotasMatchTypeAny}})
	if err != nil || len(quotas) != 0 {
		t.Errorf("DescribeClientQuotas %v, %v, want none", quotas, err)
	}
	alteredQ, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kadm.StringPtr("app")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(alteredQ) != 1 || !errors.Is(alteredQ[0].Err, kerr.InvalidRequest) {
		t.Errorf("AlterClientQuotas %+v, want INVALID_REQUEST", alteredQ)
	}

	// SCRAM users: none.
	if users, err := adm.DescribeUserSCRAMs(ctx); err != nil || len(users) != 0 {
		t.Errorf("DescribeUserSCRAMs of all: %v, %v, want none", users, err)
	}
	users, err := adm.DescribeUserSCRAMs(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if u := users["alice"]; !errors.Is(u.Err, kerr.ResourceNotFound) {
		t.Errorf("DescribeUserSCRAMs(alice) %+v, want RESOURCE_NOT_FOUND", u)
	}

	// ElectLeaders: the leader is always its broker group's master.
	elected, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"admin-pages": {0: {}, 1: {}, 5: {}}})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[int32]error{0: kerr.ElectionNotNeeded, 1: kerr.ElectionNotNeeded, 5: kerr.UnknownTopicOrPartition} {
		if got := elected["admin-pages"][p]; !errors.Is(got.Err, want) {
			t.Errorf("ElectLeaders partition %d: %v, want %v", p, got.Err, want)
		}
	}

	// Broker configs, with sources, as consoles show them.
	rcs, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		value  string
		source kmsg.ConfigSource
	}
	wants := map[string]want{
		"delete.topic.enable":       {"true", kmsg.ConfigSourceDefaultConfig},
		"min.insync.replicas":       {"1", kmsg.ConfigSourceDefaultConfig},
		"num.partitions":            {"1", kmsg.ConfigSourceDefaultConfig},
		"auto.create.topics.enable": {"true", kmsg.ConfigSourceDefaultConfig},
		"log.dirs":                  {b.dir, kmsg.ConfigSourceStaticBrokerConfig},
	}
	for _, rc := range rcs {
		for _, c := range rc.Configs {
			w, ok := wants[c.Key]
			if !ok {
				continue
			}
			if c.MaybeValue() != w.value || c.Source != w.source {
				t.Errorf("broker config %s = %q from %v, want %q from %v", c.Key, c.MaybeValue(), c.Source, w.value, w.source)
			}
			delete(wants, c.Key)
		}
	}
	if len(wants) != 0 {
		t.Errorf("broker configs missing: %v", wants)
	}

	// Broker loggers (KIP-412), by the broker's id.
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, strconv.Itoa(int(meta.Brokers[0].NodeID))
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	loggers := map[string]string{}
	for _, c := range resp.Resources[0].Configs {
		loggers[c.Name] = *c.Value
	}
	if resp.Resources[0].ErrorCode != 0 || loggers["root"] != "WARN" {
		t.Errorf("broker loggers: code %d, %v, want root at WARN (the tests' level)", resp.Resources[0].ErrorCode, loggers)
	}
}
