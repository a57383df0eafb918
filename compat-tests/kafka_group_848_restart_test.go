package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaGroup848Restart restarts the broker under a live franz-go
// KIP-848 member (kgo.ServerSideBalancer): the group is restored from its
// record, so the member heartbeats on with the same id and epoch and
// keeps its partitions (no rejoin, same group epoch); no committed offset
// is lost or moves backwards, and no record is processed twice.
func TestKafkaGroup848Restart(t *testing.T) {
	const partitions = 4
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "restart848")
	group := "g-" + topic
	createTopic(t, b.addr, topic, partitions, nil)
	prod := kgoClient(t, b.addr)
	admCl := kgoClient(t, b.addr)
	adm := kadm.NewClient(admCl)
	tr := newTracker()
	newMember := kgoMember(kgo.ServerSideBalancer(), kgo.AutoCommitInterval(200*time.Millisecond))
	m := newMember(t, b.addr, group, topic, tr)
	describe848Stable(t, admCl, group, 1, partitions)
	// A second member comes and goes, so the epochs are past 1 and a
	// rejoin into a forgotten group would show.
	m2 := newMember(t, b.addr, group, topic, tr)
	describe848Stable(t, admCl, group, 2, partitions)
	produceKgo(t, prod, topic, partitions, 80, "a")
	tr.wait(t, 80)
	m2.close()
	before := describe848Stable(t, admCl, group, 1, partitions)
	if before.Epoch < 3 || before.Members[0].MemberEpoch < 3 {
		t.Fatalf("epochs before the restart: group %d, member %d; want >= 3", before.Epoch, before.Members[0].MemberEpoch)
	}
	committedBefore := committed(t, adm, group, topic, 80)

	b.restart()
	after := describe848Stable(t, admCl, group, 1, partitions)
	if after.Epoch != before.Epoch || len(after.Members) != 1 ||
		after.Members[0].MemberID != before.Members[0].MemberID ||
		after.Members[0].MemberEpoch != before.Members[0].MemberEpoch {
		t.Fatalf("after the restart: group epoch %d member %s@%d; before: %d %s@%d (the member rejoined)",
			after.Epoch, after.Members[0].MemberID, after.Members[0].MemberEpoch,
			before.Epoch, before.Members[0].MemberID, before.Members[0].MemberEpoch)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	os, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range committedBefore {
		if a, _ := os.Lookup(topic, p); a.At < o {
			t.Fatalf("partition %d committed %d before the restart, %d after", p, o, a.At)
		}
	}
	produceKgo(t, prod, topic, partitions, 80, "b")
	tr.wait(t, 160)
	// The member commits through the restarted broker with its epoch.
	committed(t, adm, group, topic, 160)
	check848Codes(t, admCl, group, topic, after.Members[0].MemberID, after.Members[0].MemberEpoch)
	m.close()
	if d, dups := tr.counts(); d != 160 || dups != 0 {
		t.Fatalf("%d distinct, %d redelivered; want 160, 0", d, dups)
	}
}

// describe848Stable waits until the KIP-848 group is stable with n
// members owning every partition, and returns its description.
func describe848Stable(t *testing.T, cl *kgo.Client, group string, n, partitions int) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	var out kmsg.ConsumerGroupDescribeResponseGroup
	groupWaitFor(t, "a stable KIP-848 group", 60*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
			return false
		}
		g := resp.Groups[0]
		if g.State != "Stable" || len(g.Members) != n {
			return false
		}
		owned := 0
		for _, m := range g.Members {
			for _, tp := range m.Assignment.TopicPartitions {
				owned += len(tp.Partitions)
			}
		}
		out = g
		return owned == partitions
	})
	return out
}

// check848Codes: a KIP-848 member's OffsetCommit before v9 gets
// UNSUPPORTED_VERSION (35); OffsetFetch v9 with a stale epoch gets
// STALE_MEMBER_EPOCH (113), with an unknown member UNKNOWN_MEMBER_ID (25),
// and with the current epoch or as an admin, the offsets.
func check848Codes(t *testing.T, cl *kgo.Client, group, topic, member string, epoch int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group, oc.MemberID, oc.Generation = 8, group, member, epoch
	ot := kmsg.NewOffsetCommitRequestTopic()
	ot.Topic = topic
	op := kmsg.NewOffsetCommitRequestTopicPartition()
	op.Partition, op.Offset = 0, 0
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	resp, err := cl.Request(ctx, pinned{oc})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; c != 35 {
		t.Fatalf("OffsetCommit v8 from a KIP-848 member: code %d, want 35", c)
	}
	for _, tc := range []struct {
		member *string
		epoch  int32
		want   int16
	}{{&member, epoch, 0}, {nil, -1, 0}, {&member, epoch - 1, 113}, {kmsg.StringPtr("nobody"), epoch, 25}} {
		of := kmsg.NewPtrOffsetFetchRequest()
		of.Version = 9
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.MemberID, g.MemberEpoch = group, tc.member, tc.epoch
		of.Groups = append(of.Groups, g)
		resp, err := cl.Request(ctx, pinned{of})
		if err != nil {
			t.Fatal(err)
		}
		rg := resp.(*kmsg.OffsetFetchResponse).Groups[0]
		if rg.ErrorCode != tc.want || tc.want == 0 && len(rg.Topics) == 0 {
			t.Fatalf("OffsetFetch v9 epoch %d: code %d, %d topics; want code %d", tc.epoch, rg.ErrorCode, len(rg.Topics), tc.want)
		}
	}
}
