package kafkaapi_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/kafkaapi"
)

// TestLeaderEpochs: a group whose master epoch goes from 1 to 3 (two
// failovers, the second of them elected while epoch 2 wrote nothing
// here). Batches carry the epoch they were appended in; Metadata and
// ListOffsets give the current one; Fetch with an older current epoch is
// FENCED_LEADER_EPOCH, with a newer one UNKNOWN_LEADER_EPOCH; and
// OffsetForLeaderEpoch ends epoch 1 (and 2, which began nothing here)
// where epoch 3's first batch is, epoch 3 at the high watermark, and
// knows no epoch 4.
func TestLeaderEpochs(t *testing.T) {
	var epoch atomic.Int32
	epoch.Store(1)
	var mu sync.Mutex
	list := []kafkaapi.EpochStart{{Epoch: 1, Start: 0}}
	b := startBrokerWith(t, brokerOpts{epoch: epoch.Load, epochs: func() []kafkaapi.EpochStart {
		mu.Lock()
		defer mu.Unlock()
		return append([]kafkaapi.EpochStart(nil), list...)
	}})
	const topic = "epochs"
	b.createTopic(t, topic, 1)
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	b.h.SetAdvertised(host, int32(p))
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := range 5 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Epoch 3 begins at the log's end (epoch 2 wrote nothing here).
	_, written := b.store.LogRange()
	mu.Lock()
	list = append(list, kafkaapi.EpochStart{Epoch: 2, Start: written}, kafkaapi.EpochStart{Epoch: 3, Start: written})
	mu.Unlock()
	epoch.Store(3)
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(10 + i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	raw := dial(t, b.addr)
	ofle := func(e int32) (int32, int64, int16) {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID, req.Version = -1, 4
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, -1, e
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := raw.roundTrip(req).(*kmsg.OffsetForLeaderEpochResponse)
		p := resp.Topics[0].Partitions[0]
		return p.LeaderEpoch, p.EndOffset, p.ErrorCode
	}
	for _, c := range []struct {
		ask, epoch int32
		end        int64
	}{{0, 0, 0}, {1, 1, 5}, {2, 2, 5}, {3, 3, 8}, {4, -1, -1}} {
		e, end, code := ofle(c.ask)
		if code != 0 || e != c.epoch || end != c.end {
			t.Errorf("OffsetForLeaderEpoch(%d) = epoch %d end %d (error %d), want %d %d", c.ask, e, end, code, c.epoch, c.end)
		}
	}

	fetch := func(current int32) (int16, []int32) {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MaxBytes = -1, 0, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 0, 1<<20, current
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		req.Version = 12 // by name
		resp := raw.roundTrip(req).(*kmsg.FetchResponse)
		p := resp.Topics[0].Partitions[0]
		var epochs []int32
		for raw := p.RecordBatches; len(raw) >= 61; {
			var batch kmsg.RecordBatch
			if err := batch.ReadFrom(raw); err != nil {
				t.Fatal(err)
			}
			epochs = append(epochs, batch.PartitionLeaderEpoch)
			raw = raw[12+int(batch.Length):]
		}
		return p.ErrorCode, epochs
	}
	if code, _ := fetch(1); code != 74 {
		t.Errorf("fetch with current epoch 1: error %d, want FENCED_LEADER_EPOCH", code)
	}
	if code, _ := fetch(4); code != 75 {
		t.Errorf("fetch with current epoch 4: error %d, want UNKNOWN_LEADER_EPOCH", code)
	}
	code, epochs := fetch(3)
	if code != 0 || len(epochs) != 8 || epochs[0] != 1 || epochs[4] != 1 || epochs[5] != 3 || epochs[7] != 3 {
		t.Errorf("fetch with epoch 3: error %d, batch epochs %v, want 5 of 1 then 3 of 3", code, epochs)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, mt)
	if e := raw.roundTrip(md).(*kmsg.MetadataResponse).Topics[0].Partitions[0].LeaderEpoch; e != 3 {
		t.Errorf("metadata leader epoch %d, want 3", e)
	}
}
