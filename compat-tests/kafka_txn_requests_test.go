package compattests

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka error codes the raw transaction requests expect.
const (
	codeUnknownTopicOrPartition  = 3
	codeIllegalGeneration        = 22
	codeInvalidTxnState          = 48
	codeInvalidProducerIDMapping = 49
	codeInvalidTxnTimeout        = 50
	codeOperationNotAttempted    = 55
	codeUnstableOffsetCommit     = 88
	codeProducerFenced           = 90
)

// TestKafkaTxnRequests sends the transaction keys raw, for the error codes
// of bad input (each refused request changes nothing), KIP-890's
// verify-only AddPartitionsToTxn, and fencing by epoch. The client is
// capped below KIP-890 part 2 (EndTxn v4, TxnOffsetCommit v4): the
// classic protocol's codes (TestKafkaTxnRequestsV2 has part 2's).
func TestKafkaTxnRequests(t *testing.T) {
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "rq", 2, nil)
	v := tv1Versions()
	v.SetMaxKeyVersion(int16(kmsg.TxnOffsetCommit), 4)
	v.SetMaxKeyVersion(int16(kmsg.AddPartitionsToTxn), 4) // v5 verification answers TRANSACTION_ABORTABLE
	cl := kgoClient(t, b.addr, kgo.MaxVersions(v))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	initPID := func(id string, timeoutMs int32) (int64, int16, int16) {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), timeoutMs
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ProducerID, resp.ProducerEpoch, resp.ErrorCode
	}
	addParts := func(id string, pid int64, epoch int16, topic string, parts ...int32) []int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
		rt := kmsg.NewAddPartitionsToTxnRequestTopic()
		rt.Topic, rt.Partitions = topic, parts
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		var codes []int16
		for _, p := range resp.Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		return codes
	}
	endTxn := func(id string, pid int64, epoch int16, commit bool) int16 {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, commit
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.ErrorCode
	}

	if code := endTxn("nobody", 12345, 0, true); code != codeInvalidProducerIDMapping {
		t.Fatalf("EndTxn of an unknown transactional id: %d", code)
	}
	if _, _, code := initPID("long", 1<<30); code != codeInvalidTxnTimeout {
		t.Fatalf("InitProducerId over transaction.max.timeout.ms: %d", code)
	}
	pid, epoch, code := initPID("rq", 60000)
	if code != 0 {
		t.Fatalf("InitProducerId: %d", code)
	}
	// A topic that does not exist fails the request, nothing added: the
	// transaction stays empty, so a commit is refused.
	if codes := addParts("rq", pid, epoch, "no-such-topic", 0); len(codes) != 1 || codes[0] != codeUnknownTopicOrPartition {
		t.Fatalf("AddPartitionsToTxn of a missing topic: %v", codes)
	}
	if codes := addParts("rq", pid, epoch, "rq", 0, 7); codes[0] != codeOperationNotAttempted || codes[1] != codeUnknownTopicOrPartition {
		t.Fatalf("AddPartitionsToTxn with a missing partition: %v", codes)
	}
	if code := endTxn("rq", pid, epoch, true); code != codeInvalidTxnState {
		t.Fatalf("EndTxn after refused adds: %d", code)
	}
	// TxnOffsetCommit for a group the transaction did not add.
	if codes := addParts("rq", pid, epoch, "rq", 0); codes[0] != 0 {
		t.Fatalf("AddPartitionsToTxn: %v", codes)
	}
	toc := kmsg.NewPtrTxnOffsetCommitRequest()
	toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch = "rq", "not-added", pid, epoch
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "rq"
	tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	tp.Offset = 5
	tt.Partitions = append(tt.Partitions, tp)
	toc.Topics = append(toc.Topics, tt)
	tresp, err := toc.RequestWith(ctx, cl)
	if err != nil || tresp.Topics[0].Partitions[0].ErrorCode != codeInvalidTxnState {
		t.Fatalf("TxnOffsetCommit for a group not added: %v %+v", err, tresp)
	}

	// KIP-890 part 1: verify-only asks (v4+) whether partitions belong to
	// the open transaction.
	verify := func(part int32) int16 {
		req := kmsg.NewPtrAddPartitionsToTxnRequest()
		req.Version = 4
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = "rq", pid, epoch, true
		vt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		vt.Topic, vt.Partitions = "rq", []int32{part}
		tx.Topics = append(tx.Topics, vt)
		req.Transactions = append(req.Transactions, tx)
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		r := resp.(*kmsg.AddPartitionsToTxnResponse)
		return r.Transactions[0].Topics[0].Partitions[0].ErrorCode
	}
	if c0, c1 := verify(0), verify(1); c0 != 0 || c1 != codeInvalidTxnState {
		t.Fatalf("verify-only: partition 0 %d, partition 1 %d", c0, c1)
	}

	// A second InitProducerId fences the first epoch: its requests get
	// PRODUCER_FENCED, and the new epoch's commit of nothing is refused.
	pid2, epoch2, code := initPID("rq", 60000)
	if code != 0 || pid2 != pid || epoch2 <= epoch {
		t.Fatalf("second InitProducerId: %d/%d code %d", pid2, epoch2, code)
	}
	if code := endTxn("rq", pid, epoch, true); code != codeProducerFenced {
		t.Fatalf("EndTxn of the fenced epoch: %d", code)
	}
	if codes := addParts("rq", pid, epoch, "rq", 1); codes[0] != codeProducerFenced {
		t.Fatalf("AddPartitionsToTxn of the fenced epoch: %v", codes)
	}
	if code := endTxn("rq", pid2, epoch2, false); code != codeInvalidTxnState {
		t.Fatalf("abort with no transaction open: %d", code)
	}
	// Offsets in a transaction: a member the group does not know is
	// refused (KIP-447); the offset is pending (UNSTABLE_OFFSET_COMMIT to a
	// stable fetch, the old one to others) until the commit.
	addOffs := kmsg.NewPtrAddOffsetsToTxnRequest()
	addOffs.TransactionalID, addOffs.ProducerID, addOffs.ProducerEpoch, addOffs.Group = "rq", pid2, epoch2, "g-ok"
	if aresp, err := addOffs.RequestWith(ctx, cl); err != nil || aresp.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v %+v", err, aresp)
	}
	txnCommit := func(gen int32, member string) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch = "rq", "g-ok", pid2, epoch2
		req.Generation, req.MemberID = gen, member
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "rq"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Offset = 3
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := txnCommit(5, "ghost"); code != codeIllegalGeneration {
		t.Fatalf("TxnOffsetCommit of an unknown member: %d", code)
	}
	if code := txnCommit(-1, ""); code != 0 {
		t.Fatalf("TxnOffsetCommit: %d", code)
	}
	fetchOffset := func(stable bool) (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.RequireStable = "g-ok", stable
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "rq", []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Groups) > 0 {
			p := resp.Groups[0].Topics[0].Partitions[0]
			return p.Offset, p.ErrorCode
		}
		p := resp.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := fetchOffset(true); code != codeUnstableOffsetCommit {
		t.Fatalf("stable OffsetFetch before the commit: %d, code %d", off, code)
	}
	if off, code := fetchOffset(false); off != -1 || code != 0 {
		t.Fatalf("OffsetFetch before the commit: %d, code %d", off, code)
	}
	if code := endTxn("rq", pid2, epoch2, true); code != 0 {
		t.Fatalf("EndTxn commit: %d", code)
	}
	if off, code := fetchOffset(true); off != 3 || code != 0 {
		t.Fatalf("OffsetFetch after the commit: %d, code %d", off, code)
	}

	// The fencing aborted the open transaction on partition 0: a
	// read_committed consumer is not held behind it.
	produceSentinels(t, b.addr, "rq", 2)
	if got := consumeToSentinels(t, b.addr, "rq", 2, kgo.ReadCommitted()); len(got) != 0 {
		t.Fatalf("records: %v", got)
	}
}
