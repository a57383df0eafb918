package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaGroupRestart restarts the broker under a live franz-go group
// member: the member carries on (its group is restored from the record),
// no committed offset is lost or moves backwards, and every record is
// processed.
func TestKafkaGroupRestart(t *testing.T) {
	const partitions = 3
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "restart")
	group := "g-" + topic
	createTopic(t, b.addr, topic, partitions, nil)
	prod := kgoClient(t, b.addr)
	adm := kadm.NewClient(kgoClient(t, b.addr))
	tr := newTracker()
	m := kgoMember()(t, b.addr, group, topic, tr)
	waitStable(t, adm, group, 1, partitions)
	produceKgo(t, prod, topic, partitions, 90, "a")
	tr.wait(t, 90)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before := committed(t, adm, group, topic, 90)

	b.restart()
	after, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	for p, o := range before {
		if a, _ := after.Lookup(topic, p); a.At < o {
			t.Fatalf("partition %d committed %d before the restart, %d after", p, o, a.At)
		}
	}
	produceKgo(t, prod, topic, partitions, 90, "b")
	tr.wait(t, 180)
	m.close()
	committed(t, adm, group, topic, 180)
	if d, dups := tr.counts(); d != 180 || dups != 0 {
		t.Fatalf("%d distinct, %d redelivered", d, dups)
	}
}

// committed waits until the group's commits on topic sum to n and returns
// them per partition.
func committed(t *testing.T, adm *kadm.Client, group, topic string, n int64) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	groupWaitFor(t, "commits", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		os, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		sum := int64(0)
		os.Each(func(o kadm.OffsetResponse) {
			if o.Topic == topic {
				out[o.Partition] = o.At
				sum += o.At
			}
		})
		return sum == n
	})
	return out
}

// TestKafkaGroupErrorCodes sends raw group requests, old and new versions,
// and checks Kafka's error codes for bad input.
func TestKafkaGroupErrorCodes(t *testing.T) {
	b := startGroupBroker(t, t.TempDir(), nil)
	topic := kafkaTopicName(t, "codes")
	createTopic(t, b.addr, topic, 2, nil)
	cl := kgoClient(t, b.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := func(r kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Request(ctx, pinned{r})
		if err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		return resp
	}
	join := func(version int16, member, ptype string) *kmsg.JoinGroupResponse {
		j := kmsg.NewPtrJoinGroupRequest()
		j.Version, j.Group, j.MemberID, j.ProtocolType = version, "codes", member, ptype
		j.SessionTimeoutMillis, j.RebalanceTimeoutMillis = 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 1}
		j.Protocols = append(j.Protocols, p)
		return req(j).(*kmsg.JoinGroupResponse)
	}
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 4, []string{"a", "b"}
	if r := req(fc).(*kmsg.FindCoordinatorResponse); len(r.Coordinators) != 2 || r.Coordinators[1].ErrorCode != 0 {
		t.Fatalf("batched FindCoordinator %+v", r)
	}
	r := join(4, "", "consumer")
	if r.ErrorCode != 79 || r.MemberID == "" {
		t.Fatalf("JoinGroup v4 new member: code %d id %q", r.ErrorCode, r.MemberID)
	}
	r = join(4, r.MemberID, "consumer")
	if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != r.MemberID {
		t.Fatalf("JoinGroup v4 known member: %+v", r)
	}
	member, gen := r.MemberID, r.Generation
	if r := join(2, "", "connect"); r.ErrorCode != 23 {
		t.Fatalf("other protocol type: %d", r.ErrorCode)
	}
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Version = 5
	sg.Group, sg.MemberID, sg.Generation = "codes", member, gen+1
	if r := req(sg).(*kmsg.SyncGroupResponse); r.ErrorCode != 22 {
		t.Fatalf("stale SyncGroup: %d", r.ErrorCode)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	hb.Group, hb.MemberID, hb.Generation = "codes", "nobody", gen
	if r := req(hb).(*kmsg.HeartbeatResponse); r.ErrorCode != 25 {
		t.Fatalf("unknown member heartbeat: %d", r.ErrorCode)
	}
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Version, oc.Group = 2, "simple"
	oc.Generation = -1
	for _, name := range []string{topic, "no-such-topic"} {
		ot := kmsg.NewOffsetCommitRequestTopic()
		ot.Topic = name
		for _, p := range []int32{1, 7} {
			op := kmsg.NewOffsetCommitRequestTopicPartition()
			op.Partition, op.Offset, op.Metadata = p, 5, kmsg.StringPtr("md")
			ot.Partitions = append(ot.Partitions, op)
		}
		oc.Topics = append(oc.Topics, ot)
	}
	ocr := req(oc).(*kmsg.OffsetCommitResponse)
	codes := []int16{ocr.Topics[0].Partitions[0].ErrorCode, ocr.Topics[0].Partitions[1].ErrorCode, ocr.Topics[1].Partitions[0].ErrorCode}
	if codes[0] != 0 || codes[1] != 3 || codes[2] != 3 {
		t.Fatalf("OffsetCommit codes %v, want [0 3 3]", codes)
	}
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Version, of.Group = 1, "simple"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = topic, []int32{0, 1}
	of.Topics = append(of.Topics, ft)
	ofr := req(of).(*kmsg.OffsetFetchResponse)
	if p := ofr.Topics[0].Partitions; p[0].Offset != -1 || p[1].Offset != 5 || *p[1].Metadata != "md" {
		t.Fatalf("OffsetFetch v1 %+v", p)
	}
	lg := kmsg.NewPtrListGroupsRequest()
	lg.Version, lg.StatesFilter = 4, []string{"completingrebalance"}
	if r := req(lg).(*kmsg.ListGroupsResponse); len(r.Groups) != 1 || r.Groups[0].Group != "codes" {
		t.Fatalf("ListGroups by state %+v", r.Groups)
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Version = 2
	dg.Groups = []string{"codes", "simple", "nope"}
	dr := req(dg).(*kmsg.DeleteGroupsResponse)
	if c := []int16{dr.Groups[0].ErrorCode, dr.Groups[1].ErrorCode, dr.Groups[2].ErrorCode}; c[0] != 68 || c[1] != 0 || c[2] != 69 {
		t.Fatalf("DeleteGroups codes %v, want [68 0 69]", c)
	}
}

// pinned keeps a request at the version it was built with (kgo would
// raise it to the broker's maximum).
type pinned struct{ kmsg.Request }

func (p pinned) MaxVersion() int16 { return p.GetVersion() }
