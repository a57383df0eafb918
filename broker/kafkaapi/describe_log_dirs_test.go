package kafkaapi_test

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeLogDirsSizes: a partition's Size is the bytes of its stored
// batches between its start and end, so it grows with produce and shrinks
// when DeleteRecords moves the start; the directory reports its file
// system's bytes.
func TestDescribeLogDirsSizes(t *testing.T) {
	b := startBroker(t)
	b.createTopic(t, "sized", 2)
	rc := dial(t, b.addr)
	produceRounds(t, rc, "sized", 1, 10) // partition 0 only

	fetched := func(from int64) int64 {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.ReplicaID = 11, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "sized"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = from, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return int64(len(rc.roundTrip(req).(*kmsg.FetchResponse).Topics[0].Partitions[0].RecordBatches))
	}
	sizes := func() (int64, int64, *kmsg.DescribeLogDirsResponseDir) {
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = 4
		dt := kmsg.NewDescribeLogDirsRequestTopic()
		dt.Topic, dt.Partitions = "sized", []int32{0, 1}
		req.Topics = append(req.Topics, dt)
		resp := rc.roundTrip(req).(*kmsg.DescribeLogDirsResponse)
		d := resp.Dirs[0]
		ps := d.Topics[0].Partitions
		return ps[0].Size, ps[1].Size, &d
	}

	want := fetched(0)
	p0, p1, dir := sizes()
	if p0 != want || p1 != 0 {
		t.Fatalf("sizes %d and %d, want %d and 0", p0, p1, want)
	}
	if dir.TotalBytes <= 0 || dir.UsableBytes < 0 || dir.UsableBytes > dir.TotalBytes {
		t.Fatalf("dir total %d usable %d", dir.TotalBytes, dir.UsableBytes)
	}

	del := kmsg.NewPtrDeleteRecordsRequest()
	del.Version = 2
	dt := kmsg.NewDeleteRecordsRequestTopic()
	dt.Topic = "sized"
	dp := kmsg.NewDeleteRecordsRequestTopicPartition()
	dp.Offset = 4
	dt.Partitions = append(dt.Partitions, dp)
	del.Topics = append(del.Topics, dt)
	if code := rc.roundTrip(del).(*kmsg.DeleteRecordsResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("DeleteRecords: error %d", code)
	}
	produceRounds(t, rc, "sized", 1, 2)
	if p0, _, _ := sizes(); p0 != fetched(4) {
		t.Fatalf("after DeleteRecords and 2 more batches: %d bytes, want %d", p0, fetched(4))
	}
}
