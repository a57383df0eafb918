package kafkaapi_test

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// panicCounter is a slog.Handler that counts the handler panics the
// broker recovers from (they would otherwise only be logged).
type panicCounter struct {
	slog.Handler
	n *atomic.Int64
}

func (p panicCounter) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic") {
		p.n.Add(1)
	}
	return p.Handler.Handle(ctx, r)
}

func (p panicCounter) WithAttrs(as []slog.Attr) slog.Handler {
	return panicCounter{p.Handler.WithAttrs(as), p.n}
}

func (p panicCounter) WithGroup(g string) slog.Handler {
	return panicCounter{p.Handler.WithGroup(g), p.n}
}

// sentinelCorr is the correlation id of the ApiVersions request sent after
// each fuzzed frame: its answer means the broker is done with the frame.
const sentinelCorr = 0x7ffffff0

// FuzzHandlerFrame feeds arbitrary request frames (the bytes after the
// size prefix) to a broker over a real store and TCP. Invariants: the
// handler never panics; the broker answers with whole frames or closes the
// connection; it keeps serving new connections. Seeds are requests of the
// keys clients send, with record batches captured from real clients
// (wire/kafka/testdata).
func FuzzHandlerFrame(f *testing.F) {
	for _, seed := range handlerSeeds(f) {
		f.Add(seed)
	}
	var panics atomic.Int64
	log := slog.New(panicCounter{testLogger().Handler(), &panics})
	b := startBrokerWith(f, brokerOpts{groups: true, log: log})
	b.createTopic(f, "fuzz", 2)
	health := dial(f, b.addr)
	var rc *rawConn // reused while the broker keeps it open
	f.Fuzz(func(t *testing.T, frame []byte) {
		if rc == nil {
			c, err := net.Dial("tcp", b.addr)
			if err != nil {
				t.Fatal(err)
			}
			// Close with RST: most inputs close the connection, and
			// thousands of TIME_WAITs would exhaust loopback ports.
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
		// Inputs run one at a time per process.
		health.t = t
		if rc != nil {
			rc.t = t
		}
		health.roundTrip(kmsg.NewPtrApiVersionsRequest())
	})
}

// fuzzFrame sends frame and a sentinel request after it, and reads the
// answers up to the sentinel's. It reports whether the connection is
// still clean for the next input (not closed, no long poll pending).
func fuzzFrame(t *testing.T, rc *rawConn, frame []byte) bool {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	out = append(out, frame...)
	sentinel := kmsg.NewPtrApiVersionsRequest()
	sentinel.Version = 0
	out = append(out, rc.fmt.AppendRequest(nil, sentinel, sentinelCorr)...)
	if _, err := rc.c.Write(out); err != nil {
		return false
	}
	for {
		resp, err := rc.readFrame(250 * time.Millisecond)
		if err != nil {
			return false // closed, or a long poll still waiting
		}
		if len(resp) < 4 {
			t.Fatalf("%d-byte response", len(resp))
		}
		if int32(binary.BigEndian.Uint32(resp)) == sentinelCorr {
			return true
		}
	}
}

// handlerSeeds are well-formed request frames of the keys clients send.
func handlerSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob("../../wire/kafka/testdata/batch-*.bin")
	var batches [][]byte
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			batches = append(batches, b)
		}
	}
	batches = append(batches, testBatch(f, "seed", 3))
	var reqs []kmsg.Request
	for i, batch := range batches {
		p := kmsg.NewPtrProduceRequest()
		p.Version, p.Acks, p.TimeoutMillis = int16(3+i%11), int16(i%3-1), 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "fuzz"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = int32(i%2), batch
		rt.Partitions = append(rt.Partitions, rp)
		p.Topics = append(p.Topics, rt)
		reqs = append(reqs, p)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.Version, fetch.MaxWaitMillis, fetch.MaxBytes = 12, 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "fuzz"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Version = 7
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "fuzz"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ctt := kmsg.NewCreateTopicsRequestTopic()
	ctt.Topic, ctt.NumPartitions, ctt.ReplicationFactor = "fuzz-created", 1, 1
	ct.Topics = append(ct.Topics, ctt)
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dcr := kmsg.NewDescribeConfigsRequestResource()
	dcr.ResourceType, dcr.ResourceName = kmsg.ConfigResourceTypeTopic, "fuzz"
	dc.Resources = append(dc.Resources, dcr)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	reqs = append(reqs, fetch, lo, ct, dc, md, av, kmsg.NewPtrInitProducerIDRequest(), kmsg.NewPtrFindCoordinatorRequest())
	reqs = append(reqs, txnSeeds()...)
	reqs = append(reqs, adminSeeds()...)
	reqs = append(reqs, shareSeeds()...)
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var seeds [][]byte
	for i, r := range reqs {
		frame := fm.AppendRequest(nil, r, int32(i))
		seeds = append(seeds, frame[4:])
	}
	return seeds
}

// txnSeeds are the transaction keys' requests, on transactional id "fz".
func txnSeeds() []kmsg.Request {
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.TransactionalID, ip.TransactionTimeoutMillis = kmsg.StringPtr("fz"), 60000
	ap := kmsg.NewPtrAddPartitionsToTxnRequest()
	ap.TransactionalID = "fz"
	at := kmsg.NewAddPartitionsToTxnRequestTopic()
	at.Topic, at.Partitions = "fuzz", []int32{0, 1}
	ap.Topics = append(ap.Topics, at)
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.TransactionalID, ao.Group = "fz", "g"
	to := kmsg.NewPtrTxnOffsetCommitRequest()
	to.TransactionalID, to.Group = "fz", "g"
	tt := kmsg.NewTxnOffsetCommitRequestTopic()
	tt.Topic = "fuzz"
	tt.Partitions = append(tt.Partitions, kmsg.NewTxnOffsetCommitRequestTopicPartition())
	to.Topics = append(to.Topics, tt)
	et := kmsg.NewPtrEndTxnRequest()
	et.TransactionalID, et.Commit = "fz", true
	dp := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = "fuzz", []int32{0}
	dp.Topics = append(dp.Topics, dt)
	dtx := kmsg.NewPtrDescribeTransactionsRequest()
	dtx.TransactionalIDs = []string{"fz"}
	lt := kmsg.NewPtrListTransactionsRequest()
	lt.TransactionalIDPattern = kmsg.StringPtr("f.*")
	return []kmsg.Request{ip, ap, ao, to, et, dp, dtx, lt}
}
