package kafkaapi

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/netio"
)

// fetch answers key 1. Fetch sessions (KIP-227) are declined: every answer
// carries SessionID 0, which clients read as "no session" and then send
// full, sessionless fetches (kgo kills its session).
// A fetch with less than MinBytes parks in broker/log.Holds on every
// partition plus a MaxWaitMs timer; an append or the timer re-runs it.
// No goroutine waits meanwhile.
func (h *Handler) fetch(r *request, req *kmsg.FetchRequest) {
	if !fullFetch(req.SessionEpoch) {
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.ErrorCode = errFetchSessionIDNotFound
		r.reply(resp)
		return
	}
	f := &fetchState{h: h, r: r, req: req, markers: newFetchMarkers(),
		deadline: time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)}
	f.run()
}

// fullFetch reports whether a fetch with this session epoch carries its
// whole partition list, as Kafka's FetchMetadata.isFull: epoch 0
// (INITIAL_EPOCH) asks to open a session, -1 (FINAL_EPOCH) fetches without
// one, and either way the SessionID only names a session to close. Kafka
// answers both as full fetches, with SessionID 0 when it keeps no session
// (FullFetchContext with a full cache, SessionlessFetchContext), as twinmq
// always does. Any other epoch is incremental and names a session twinmq
// never opened: FETCH_SESSION_ID_NOT_FOUND, whatever the id (Kafka's
// SessionErrorContext, also for id 0). Versions before 7 carry no session
// fields; kmsg.NewPtrFetchRequest defaults the epoch to -1 there.
func fullFetch(epoch int32) bool { return epoch == 0 || epoch == -1 }

// fetchState is one fetch request across its waits.
type fetchState struct {
	h        *Handler
	r        *request
	req      *kmsg.FetchRequest
	deadline time.Time
	// markers and data: the partitions' record batches of the last build,
	// written by replyParts without a copy (xproto_fetch.go).
	markers fetchMarkers
	data    [][][]byte
	// sent: the topic, records and bytes of each data entry, and stored:
	// the store times (ms) of the entries read from the log, counted and
	// observed on reply.
	sent   []topicBytes
	stored []int64
	// parts: each partition's topic (known topics) and code, counted on
	// reply (RequestMeter).
	parts []topicCode
	// cut: the connection closed or the listener drains; do not park.
	cut bool
}

// topicCode is a fetched partition's topic and answer.
type topicCode struct {
	topic string
	code  int16
}

// waitPart is a partition to watch: woken when it grows past hwm.
type waitPart struct {
	topic string
	part  int32
	hwm   int64
}

// run reads every partition and replies, or parks if there is less than
// MinBytes, no error and time left.
func (f *fetchState) run() {
	// The fetch's deadline also bounds waiting for a conversion another
	// fetch is making (broker/log/cache_flight.go).
	ctx, cancel := context.WithDeadline(context.Background(), f.deadline)
	resp, reads, waits, n, errs := f.build(ctx)
	cancel()
	release := func() {
		for _, rd := range reads {
			rd.Release()
		}
	}
	remaining := time.Until(f.deadline)
	if n >= int(f.req.MinBytes) || errs || remaining <= 0 || len(waits) == 0 || f.cut || f.h.holds.Draining() {
		for _, p := range f.parts {
			f.h.countRequest(p.topic, true, p.code)
		}
		if len(f.data) > 0 {
			f.h.countOut(f.sent, f.stored)
			f.r.replyParts(resp, &f.markers, f.data, release) // releases once written
			return
		}
		release()
		f.r.reply(resp)
		return
	}
	release()
	f.arm(waits, remaining)
}

// build reads the partitions within the byte budgets. The first batch may
// exceed them (KIP-74: a consumer always makes progress); later ones not.
func (f *fetchState) build(ctx context.Context) (*kmsg.FetchResponse, []*log.ReadResult, []waitPart, int, bool) {
	resp := f.req.ResponseKind().(*kmsg.FetchResponse)
	budget := int(f.req.MaxBytes)
	if budget <= 0 || f.req.Version < 3 {
		budget = math.MaxInt32
	}
	var reads []*log.ReadResult
	var waits []waitPart
	total, errs := 0, false
	f.data, f.sent, f.stored, f.parts = f.data[:0], f.sent[:0], f.stored[:0], f.parts[:0]
	byID := f.req.Version >= 13
	preferred := f.h.preferredReplica(f.req) // follower.go
	for _, t := range f.req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		cfg, code := f.h.readTopic(t.Topic, t.TopicID, byID)
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition, rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = p.Partition, -1, -1, -1
			// Empty, never null: librdkafka fails the whole answer on a
			// null record set ("invalid MessageSetSize -1").
			rp.RecordBatches = []byte{}
			c := code
			if c == errNone {
				p.Partition, c = f.h.localQueue(cfg, p.Partition) // this broker's queue; rp keeps the client's number
			}
			if c == errNone {
				c = f.h.checkLeaderEpoch(p.CurrentLeaderEpoch)
			}
			if c == errNone && f.req.IsolationLevel == 1 && f.h.following() {
				c = errNotLeaderOrFollower // the master keeps the transaction index
			}
			if c == errNone && preferred >= 0 {
				// KIP-392: fetch this from the follower in the
				// consumer's rack; no records from here.
				min, hwm, err := f.h.queueRange(cfg.Name, p.Partition)
				c = codeOf(err)
				rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hwm, hwm, min
				if c == errNone {
					rp.PreferredReadReplica = preferred
					rt.Partitions = append(rt.Partitions, rp)
					continue
				}
			}
			if c != errNone {
				rp.ErrorCode, errs = c, true
				rt.Partitions = append(rt.Partitions, rp)
				f.parts = append(f.parts, topicCode{cfg.Name, c})
				continue
			}
			rd, size, w, code := f.readPartition(ctx, cfg, p, &rp, budget, total > 0)
			if rd != nil {
				reads = append(reads, rd)
			}
			total += size
			budget -= size
			if code != errNone {
				rp.ErrorCode, errs = code, true
			} else if w != nil {
				waits = append(waits, *w)
			}
			f.parts = append(f.parts, topicCode{cfg.Name, code})
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, reads, waits, total, errs
}

// readPartition fills one partition's answer; its record batches go to
// f.data (a marker stands for them in rp) and their size is returned.
func (f *fetchState) readPartition(ctx context.Context, cfg topics.Config, p kmsg.FetchRequestTopicPartition, rp *kmsg.FetchResponseTopicPartition,
	budget int, strict bool) (*log.ReadResult, int, *waitPart, int16) {
	topic := cfg.Name
	min, hwm, err := f.h.queueRange(topic, p.Partition)
	if err != nil {
		return nil, 0, nil, codeOf(err)
	}
	rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = hwm, hwm, min
	if p.FetchOffset > hwm && f.h.following() {
		// The master confirmed more than this follower has yet (KIP-392
		// case 4 as Kafka's followers answer it): wait for it here.
		return nil, 0, &waitPart{topic, p.Partition, hwm}, errNone
	}
	if p.FetchOffset < min || p.FetchOffset > hwm {
		return nil, 0, nil, errOffsetOutOfRange
	}
	// read_committed (KIP-98) reads up to the last stable offset, with
	// the aborted transactions the client skips; read_uncommitted reads
	// to the high watermark and is told the high watermark as LSO.
	end := hwm
	if f.req.IsolationLevel == 1 {
		lso, code := f.h.stable(cfg, p.Partition, min, p.FetchOffset, hwm, rp)
		if code != errNone {
			return nil, 0, nil, code
		}
		end = lso
	}
	w := &waitPart{topic, p.Partition, hwm}
	limit := min32(p.PartitionMaxBytes, budget)
	if p.FetchOffset >= end || limit <= 0 {
		return nil, 0, w, errNone
	}
	opt := log.ReadOptions{MaxBytes: limit, StrictMaxBytes: strict}
	if end < hwm {
		opt.Until = end
	}
	rd, parts, size, next, err := f.h.readParts(ctx, topic, p.Partition, p.FetchOffset, min, opt)
	if err != nil {
		return nil, 0, nil, codeOf(err)
	}
	if len(parts) > 0 {
		rp.RecordBatches = f.markers.marker(len(f.data))
		f.data = append(f.data, parts)
		f.sent = append(f.sent, topicBytes{topic, int(max(next-p.FetchOffset, 0)), size})
		if rd != nil && f.h.e2e.Load() != nil {
			for _, e := range rd.Entries {
				f.stored = append(f.stored, e.StoreTime)
			}
		}
	}
	return rd, size, w, errNone
}

func min32(a int32, b int) int {
	if a <= 0 {
		return 0
	}
	return min(int(a), b)
}

// arm parks the fetch (broker/log.Holds) until a watched partition grows
// or the time is up, or its connection closes or the listener drains:
// then the fetch runs again, and a cut one answers with what it has.
// Under Serial ordering a connection has at most one fetch parked.
func (f *fetchState) arm(waits []waitPart, remaining time.Duration) {
	watches := make([]log.Watch, len(waits))
	for i, p := range waits {
		watches[i] = log.Watch{Topic: p.topic, Queue: p.part, Offset: p.hwm}
	}
	var owner *netio.Conn
	if f.r != nil { // a benchmark's fetch has no connection
		owner = f.r.conn
	}
	f.h.holds.Park(owner, watches, remaining, func(why log.Reason) {
		if why == log.Cut {
			f.cut = true
		}
		f.run()
	})
	// A connection closed before its fetch parked: the connection is
	// marked closed before OnClose cuts its holds.
	if owner != nil && owner.Closed() {
		f.h.holds.Cut(owner)
	}
}

// OnDrain implements netio.Drainer: a listener that shuts down answers
// every parked fetch at once, and fetches that come later do not park
// (Shutdown waits for every request in flight, and franz-go's fetch would
// hold it up to 5 s).
func (h *Handler) OnDrain() {
	h.holds.Drain()
	if h.share != nil {
		h.share.drain() // parked share fetches answer too (78_share_fetch.go)
	}
}

// stable fills a read_committed answer's LastStableOffset and
// AbortedTransactions and returns the LSO.
func (h *Handler) stable(cfg topics.Config, part int32, start, from, hwm int64, rp *kmsg.FetchResponseTopicPartition) (int64, int16) {
	lso, aborted, err := h.txns.Stable(log.PartKey{TopicID: cfg.ID, Queue: part}, cfg.Name, start, from, hwm)
	if err != nil {
		return 0, codeOf(err)
	}
	rp.LastStableOffset = lso
	rp.AbortedTransactions = make([]kmsg.FetchResponseTopicPartitionAbortedTransaction, 0, len(aborted))
	for _, a := range aborted {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		rp.AbortedTransactions = append(rp.AbortedTransactions, at)
	}
	return lso, errNone
}
