package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/twinmq/twinmq/wire/kafka"
)

const codeInvalidProducerEpoch = 47

// txnBatch is a transactional batch of one record of producer pid at
// epoch and sequence seq.
func txnBatch(t *testing.T, pid int64, epoch int16, seq int32, value string) []byte {
	t.Helper()
	spec := kafka.BatchSpec{Attributes: 0x10, FirstTimestamp: time.Now().UnixMilli(),
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}
	b, err := kafka.AppendBatch(nil, spec, []kafka.Record{{Value: []byte(value)}}, kafka.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKafkaTxnRequestsV2 sends KIP-890 part 2 (transaction.version 2)
// raw: the feature finalized in ApiVersions, Produce v12 and
// TxnOffsetCommit v5 adding their partition and group to the transaction
// themselves, EndTxn v5 bumping the epoch at every commit and abort and
// answering with it, its retries, an abort with nothing open, a late
// batch of an ended transaction refused (it cannot reopen it), and the
// bad input codes.
func TestKafkaTxnRequestsV2(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "v2", 1, nil)
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 12) // v13 names topics by id
	cl := kgoClient(t, b.addr, kgo.MaxVersions(v))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	av := kmsg.NewPtrApiVersionsRequest()
	avr, err := av.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	finalized := int16(-1)
	for _, f := range avr.FinalizedFeatures {
		if f.Name == "transaction.version" {
			finalized = f.MaxVersionLevel
		}
	}
	if finalized != 2 {
		t.Fatalf("transaction.version finalized at %d: %+v", finalized, avr.FinalizedFeatures)
	}

	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("v2"), 60000
	ir, err := init.RequestWith(ctx, cl)
	if err != nil || ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %+v", err, ir)
	}
	pid := ir.ProducerID
	produce := func(epoch int16, seq int32, value string) int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = kmsg.StringPtr("v2"), -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "v2"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = txnBatch(t, pid, epoch, seq, value)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != 12 {
			t.Fatalf("produce v%d", resp.Version)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	endTxn := func(id string, pid int64, epoch int16, commit bool) (int16, int64, int16) {
		t.Helper()
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Version != 5 {
			t.Fatalf("EndTxn v%d", resp.Version)
		}
		return resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch
	}
	describe := func() kadm.DescribedTransaction {
		t.Helper()
		ds, err := kadm.NewClient(cl).DescribeTransactions(ctx, "v2")
		if err != nil {
			t.Fatal(err)
		}
		return ds["v2"]
	}

	// No AddPartitionsToTxn: the produce adds the partition.
	if code := produce(0, 0, "committed"); code != 0 {
		t.Fatalf("produce v12: %d", code)
	}
	if d := describe(); d.State != "Ongoing" || len(d.Topics["v2"]) != 1 {
		t.Fatalf("after the produce: %+v", d)
	}
	// A partition leader's verification (AddPartitionsToTxn v5, KIP-890):
	// per partition, TRANSACTION_ABORTABLE for one not in the transaction.
	vreq := kmsg.NewPtrAddPartitionsToTxnRequest()
	vtx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	vtx.TransactionalID, vtx.ProducerID, vtx.ProducerEpoch, vtx.VerifyOnly = "v2", pid, 0, true
	vt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	vt.Topic, vt.Partitions = "v2", []int32{0}
	vtx.Topics = append(vtx.Topics, vt)
	vtx2 := vtx
	vtx2.TransactionalID = "v2-other"
	vreq.Transactions = append(vreq.Transactions, vtx, vtx2)
	vr, err := vreq.RequestWith(ctx, cl)
	if err != nil || vr.Version != 5 || len(vr.Transactions) != 2 {
		t.Fatalf("verify: %v %+v", err, vr)
	}
	if c0, c1 := vr.Transactions[0].Topics[0].Partitions[0].ErrorCode, vr.Transactions[1].Topics[0].Partitions[0].ErrorCode; c0 != 0 || c1 != codeInvalidProducerIDMapping {
		t.Fatalf("verify: %d, of an unknown id %d", c0, c1)
	}
	// No AddOffsetsToTxn: TxnOffsetCommit v5 adds the group.
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch, toc.Generation = "v2", "g2", pid, 0, -1
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "v2"
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Offset = 7
	tt.Partitions = append(tt.Partitions, tp)
	toc.Topics = append(toc.Topics, tt)
	tr, err := toc.RequestWith(ctx, cl)
	if err != nil || tr.Version != 5 || tr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit v5: %v %+v", err, tr)
	}

	if code, p, e := endTxn("v2", pid, 0, true); code != 0 || p != pid || e != 1 {
		t.Fatalf("commit: code %d, producer %d epoch %d", code, p, e)
	}
	// The reply was lost: the retry is answered again, the other outcome
	// refused.
	if code, p, e := endTxn("v2", pid, 0, true); code != 0 || p != pid || e != 1 {
		t.Fatalf("retried commit: code %d, producer %d epoch %d", code, p, e)
	}
	if code, _, _ := endTxn("v2", pid, 0, false); code != codeInvalidTxnState {
		t.Fatalf("abort retried as a commit: %d", code)
	}
	// A late batch of the committed transaction: its epoch is fenced at
	// the partition (the marker carried the bumped one), and it opens no
	// transaction.
	if code := produce(0, 1, "late"); code != codeInvalidProducerEpoch {
		t.Fatalf("late batch of epoch 0: %d", code)
	}
	if d := describe(); d.State != "CompleteCommit" || d.ProducerEpoch != 1 || len(d.Topics) != 0 {
		t.Fatalf("after the late batch: %+v", d)
	}
	// Nothing open: a commit is refused, an abort bumps the epoch.
	if code, _, _ := endTxn("v2", pid, 1, true); code != codeInvalidTxnState {
		t.Fatalf("commit with nothing open: %d", code)
	}
	if code, p, e := endTxn("v2", pid, 1, false); code != 0 || p != pid || e != 2 {
		t.Fatalf("abort with nothing open: code %d, producer %d epoch %d", code, p, e)
	}
	// An aborted transaction at the new epoch, sequences from 0 again.
	if code := produce(2, 0, "aborted"); code != 0 {
		t.Fatalf("produce at epoch 2: %d", code)
	}
	if code, _, e := endTxn("v2", pid, 2, false); code != 0 || e != 3 {
		t.Fatalf("abort: code %d epoch %d", code, e)
	}

	// Bad input: nothing changes.
	if code, p, e := endTxn("nobody", 4242, 0, true); code != codeInvalidProducerIDMapping || p != -1 || e != -1 {
		t.Fatalf("EndTxn of an unknown id: code %d, producer %d epoch %d", code, p, e)
	}
	if code, _, _ := endTxn("v2", pid, 9, false); code != codeProducerFenced {
		t.Fatalf("EndTxn of an epoch never given: %d", code)
	}
	if code, _, _ := endTxn("v2", pid+1, 3, false); code != codeInvalidProducerIDMapping {
		t.Fatalf("EndTxn of another producer id: %d", code)
	}
	if d := describe(); d.State != "CompleteAbort" || d.ProducerEpoch != 3 {
		t.Fatalf("after the bad input: %+v", d)
	}

	// WriteTxnMarkers comes from other broker groups' masters only: a
	// client's (here, with no other group) is refused, nothing written.
	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, 3, true
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = "v2", []int32{0}
	m.Topics = append(m.Topics, mt)
	wm.Markers = append(wm.Markers, m)
	wr, err := wm.RequestWith(ctx, cl)
	if err != nil || wr.Markers[0].Topics[0].Partitions[0].ErrorCode != 31 {
		t.Fatalf("WriteTxnMarkers from a client: %v %+v", err, wr)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "v2")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("v2", 0); o.Offset != 4 { // committed, its marker, aborted, its marker
		t.Fatalf("end offset after a refused WriteTxnMarkers: %d", o.Offset)
	}

	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, "g2")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("v2", 0); !ok || o.At != 7 {
		t.Fatalf("committed offset: %+v %v", o, ok)
	}
	produceSentinels(t, b.addr, "v2", 1)
	if got := consumeToSentinels(t, b.addr, "v2", 1, kgo.ReadCommitted()); len(got) != 1 || got[0] != "committed" {
		t.Fatalf("read_committed: %v", got)
	}
}
