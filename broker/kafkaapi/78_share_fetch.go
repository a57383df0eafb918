package kafkaapi

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/topics"
)

// Bounds of a share fetch.
const (
	shareDefaultMaxRecords = 500     // KIP-1206's default max.poll.records
	shareMaxRecords        = 10_000  // at most this many records per request
	shareReadBytes         = 4 << 20 // record bytes read per run of acquired offsets
)

// shareFetch answers key 78 (KIP-932). In order: the share session step
// (epoch 0 opens a session with the partitions named, a later epoch must
// be the session's next and adds and forgets partitions, -1 closes it),
// the acknowledgements piggybacked on it, then records acquired from the
// session's partitions through the POP engine, each run of consecutive
// offsets with its delivery count in AcquiredRecords and the stored
// batches that hold them in Records (the client keeps the acquired
// offsets only). With nothing to hand out it waits up to MaxWaitMillis for
// an append or an expiring lock.
//
// The work runs on its own goroutine: a long poll holds no worker. One
// request per connection is in flight, so the session's epochs stay in
// order.
func (h *Handler) shareFetch(r *request, req *kmsg.ShareFetchRequest) {
	go func() {
		defer func() {
			if p := recover(); p != nil {
				h.log.Error("kafkaapi: share fetch panic", "panic", p)
				r.closeConn("internal error", fmt.Errorf("panic: %v", p))
			}
		}()
		h.shareFetchRun(r, req)
	}()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *Handler) shareFetchRun(r *request, req *kmsg.ShareFetchRequest) {
	resp := req.ResponseKind().(*kmsg.ShareFetchResponse)
	m := shareMember{deref(req.GroupID), deref(req.MemberID)}
	if m.group == "" || m.member == "" {
		resp.ErrorCode, resp.ErrorMessage = errInvalidRequest, strp("group and member ids are required")
		r.reply(resp)
		return
	}
	if code := h.notCoordinator(m.group); code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	st := h.shareSettings(m.group)
	st.align = req.ShareAcquireMode == 0 // KIP-1206: 1 is record-limit mode
	resp.AcquisitionLockTimeoutMillis = int32(st.lock.Milliseconds())
	hasAcks := false
	var adds []sharePart
	unknown := map[[16]byte]bool{}
	for _, t := range req.Topics {
		c, ok := h.shareTopicByID(t.TopicID)
		if !ok {
			unknown[t.TopicID] = true
		}
		for _, p := range t.Partitions {
			hasAcks = hasAcks || len(p.AcknowledgementBatches) > 0
			if ok && p.Partition >= 0 && p.Partition < c.Queues {
				adds = append(adds, sharePart{topic: c.Name, id: c.ID, part: p.Partition})
			}
		}
	}
	var forgets []sharePart
	for _, f := range req.ForgottenTopicsData {
		for _, p := range f.Partitions {
			forgets = append(forgets, sharePart{id: f.TopicID, part: p})
		}
	}
	parts, code := h.share.step(m, req.ShareSessionEpoch, adds, forgets, hasAcks)
	if code != errNone {
		resp.ErrorCode = code
		r.reply(resp)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := newShareAnswer(h)
	// Acknowledgements first (a partition's are applied in one step with
	// its acquisition below: one write of its state).
	pending := map[sharePart]pendingAck{}
	for _, t := range req.Topics {
		c, ok := h.shareTopicByID(t.TopicID)
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 && ok {
				continue
			}
			rp := out.part(t.TopicID, p.Partition)
			if !ok {
				rp.ErrorCode = errUnknownTopicID
				if len(p.AcknowledgementBatches) > 0 {
					rp.AcknowledgeErrorCode = errUnknownTopicID
				}
				continue
			}
			batches := make([]shareAckBatch, len(p.AcknowledgementBatches))
			for i, b := range p.AcknowledgementBatches {
				batches[i] = shareAckBatch{b.FirstOffset, b.LastOffset, b.AcknowledgeTypes}
			}
			a, code := h.shareAckOps(m, c, p.Partition, batches, req.IsRenewAck, st)
			if code != errNone {
				rp.AcknowledgeErrorCode = code
				continue
			}
			pending[sharePart{topic: c.Name, id: c.ID, part: p.Partition}] = pendingAck{a, c, rp}
		}
	}
	settleRest := func() {
		for sp, pa := range pending {
			pa.rp.AcknowledgeErrorCode = h.settled(m, pa.c, pa.ack, h.cfg.Pop.Settle(ctx, pa.ack.key, pa.ack.ops))
			delete(pending, sp)
		}
	}
	if req.ShareSessionEpoch == -1 || req.IsRenewAck {
		// Closing the session, or renewing (KIP-1222): nothing is fetched.
		settleRest()
		if req.ShareSessionEpoch == -1 {
			h.releaseMember(ctx, m)
		}
		r.reply(out.response(resp))
		return
	}
	maxRecs := int(req.MaxRecords)
	if maxRecs <= 0 {
		maxRecs = shareDefaultMaxRecords
	}
	maxRecs = min(maxRecs, shareMaxRecords)
	deadline := time.Now().Add(time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond)
	for {
		// Taken before looking: a settlement from now on wakes the wait.
		settled := h.share.settledCh()
		n := h.shareAcquireAll(ctx, m, parts, maxRecs, int(req.MaxBytes), st, out, pending)
		settleRest() // partitions whose acquisition did not run
		if n > 0 || hasAcks || len(parts) == 0 || !time.Now().Before(deadline) || h.share.draining() {
			break
		}
		if !h.shareWait(m, parts, deadline, settled) {
			break
		}
	}
	r.reply(out.response(resp))
}

// shareAnswer collects a share fetch's partitions in request order.
type shareAnswer struct {
	h      *Handler
	topics [][16]byte
	parts  map[[16]byte][]*kmsg.ShareFetchResponseTopicPartition
}

func newShareAnswer(h *Handler) *shareAnswer {
	return &shareAnswer{h: h, parts: map[[16]byte][]*kmsg.ShareFetchResponseTopicPartition{}}
}

func (a *shareAnswer) part(id [16]byte, p int32) *kmsg.ShareFetchResponseTopicPartition {
	ps, ok := a.parts[id]
	if !ok {
		a.topics = append(a.topics, id)
	}
	for _, rp := range ps {
		if rp.Partition == p {
			return rp
		}
	}
	rp := kmsg.NewShareFetchResponseTopicPartition()
	rp.Partition = p
	rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = a.h.cfg.NodeID, a.h.leaderEpoch()
	a.parts[id] = append(ps, &rp)
	return &rp
}

func (a *shareAnswer) response(resp *kmsg.ShareFetchResponse) *kmsg.ShareFetchResponse {
	for _, id := range a.topics {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = id
		for _, rp := range a.parts[id] {
			t.Partitions = append(t.Partitions, *rp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// pendingAck is a partition's checked acknowledgements waiting to be
// applied with its acquisition.
type pendingAck struct {
	ack shareAck
	c   topics.Config
	rp  *kmsg.ShareFetchResponseTopicPartition
}

// shareAcquireAll acquires up to maxRecs records over the session's
// partitions, into out, applying first the acknowledgements pending for
// each (taken out of pending), and returns how many it acquired.
func (h *Handler) shareAcquireAll(ctx context.Context, m shareMember, parts []sharePart, maxRecs, maxBytes int, st shareSettings,
	out *shareAnswer, pending map[sharePart]pendingAck) int {
	if maxBytes <= 0 {
		maxBytes = math.MaxInt32
	}
	total, bytes := 0, 0
	// Start at a different partition each time, so one busy partition
	// does not starve the others.
	first := int(h.share.rotate.Add(1))
	for i := range parts {
		if total >= maxRecs || bytes >= maxBytes {
			break
		}
		sp := parts[(first+i)%len(parts)]
		c, ok := h.shareTopic(sp.topic)
		if !ok || c.ID != sp.id {
			out.part(sp.id, sp.part).ErrorCode = errUnknownTopicID
			continue
		}
		rp := out.part(sp.id, sp.part)
		pa, acks := pending[sp]
		delete(pending, sp)
		n, size, settleErr, err := h.shareAcquire(ctx, m, c, sp.part, maxRecs-total, st, rp, pa.ack.ops)
		if acks {
			rp.AcknowledgeErrorCode = h.settled(m, c, pa.ack, settleErr)
		}
		if err != nil {
			rp.ErrorCode = codeOf(err)
			continue
		}
		total += n
		bytes += size
	}
	return total
}

// shareAcquire applies ops (a partition's acknowledgements), then
// acquires up to max records of the partition for m and fills rp with
// them: one step of the POP engine.
func (h *Handler) shareAcquire(ctx context.Context, m shareMember, c topics.Config, part int32, max int, st shareSettings,
	rp *kmsg.ShareFetchResponseTopicPartition, ops []pop.Op) (n, size int, settleErr, err error) {
	k := pop.Key{Group: m.group, Topic: c.Name, Queue: part}
	ds, settleErr, err := pop.SettleAndAcquire(ctx, h.cfg.Pop, k, ops, max, st.lock, h.shareSource(c.Name, part, st))
	if err != nil || len(ds) == 0 {
		return 0, 0, settleErr, err
	}
	slices.SortFunc(ds, func(a, b pop.Delivery[struct{}]) int { return int(a.Offset - b.Offset) })
	offs := make([]int64, len(ds))
	serials := make([]uint32, len(ds))
	for i, d := range ds {
		offs[i], serials[i] = d.Offset, d.Lock.Serial
		n := len(rp.AcquiredRecords)
		if n > 0 && rp.AcquiredRecords[n-1].LastOffset == d.Offset-1 && rp.AcquiredRecords[n-1].DeliveryCount == int16(d.Lock.Attempts) {
			rp.AcquiredRecords[n-1].LastOffset = d.Offset
			continue
		}
		ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
		ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = d.Offset, d.Offset, int16(min(d.Lock.Attempts, math.MaxInt16))
		rp.AcquiredRecords = append(rp.AcquiredRecords, ar)
	}
	h.share.hold(m, k, offs, serials)
	h.share.prune(m, k, h.cfg.Pop.MaxInFlight(), func() int64 { st, _ := h.cfg.Pop.Status(k); return st.Acked })
	recs, err := h.shareRecords(ctx, c.Name, part, rp.AcquiredRecords)
	if err != nil {
		// The records stay acquired: their locks expire and they are
		// delivered again.
		rp.AcquiredRecords = nil
		return 0, 0, settleErr, err
	}
	rp.Records = recs
	return len(ds), len(recs), settleErr, nil
}

// shareSource reads a partition for a share group: every offset of the
// partition is a record to hand out (control records and aborted ones
// too: the client acknowledges those as gaps); a record past
// share.delivery.count.limit is archived (Kafka: no dead-letter queue).
func (h *Handler) shareSource(topic string, part int32, st shareSettings) pop.Source[struct{}] {
	return pop.Source[struct{}]{
		Start: func() (int64, error) {
			start, end, err := h.queueRange(topic, part)
			if st.earliest {
				return start, err
			}
			return end, err
		},
		Read: func(from int64, n int) ([]pop.Record[struct{}], int64, error) {
			start, end, err := h.queueRange(topic, part)
			if err != nil {
				return nil, from, err
			}
			from = max(from, start)
			cnt := min(max(end-from, 0), int64(n))
			if cnt > 0 && st.align {
				// To the end of the batch holding the last offset.
				cnt = min(h.batchEnd(topic, part, from, int(cnt)), end) - from
			}
			out := make([]pop.Record[struct{}], cnt)
			for i := range out {
				out[i].Offset = from + int64(i)
			}
			return out, from + cnt, nil
		},
		At: func(off int64) (struct{}, bool, error) {
			start, end, err := h.queueRange(topic, part)
			return struct{}{}, off >= start && off < end, err
		},
		Dead:        func(context.Context, int64, struct{}, int32) error { return nil },
		MaxAttempts: st.limit,
		Slack:       shareAlignSlack,
		NoHandles:   true,
	}
}

// shareAlignSlack bounds how many records batch alignment may add to a
// share fetch's MaxRecords.
const shareAlignSlack = 10_000

// batchEnd returns the offset after the stored entry (a Kafka batch, or
// one RocketMQ message) that holds offset from+n-1; from+n when it cannot
// tell.
func (h *Handler) batchEnd(topic string, part int32, from int64, n int) int64 {
	rd, err := h.logs.Read(topic, part, from, log.ReadOptions{MaxUnits: n, MaxBytes: math.MaxInt32})
	if err != nil || len(rd.Entries) == 0 {
		return from + int64(n)
	}
	defer rd.Release()
	e := rd.Entries[len(rd.Entries)-1]
	return max(e.QueueOffset+int64(e.Count), from+int64(n))
}

// shareRecords reads the record batches that hold the acquired offsets:
// stored Kafka batches as they are, RocketMQ messages converted (the
// fetch path's fetchParts), each batch once.
func (h *Handler) shareRecords(ctx context.Context, topic string, part int32, acq []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) ([]byte, error) {
	start, _, err := h.queueRange(topic, part)
	if err != nil {
		return nil, err
	}
	out := []byte{}
	covered := int64(-1)
	for _, ar := range acq {
		for off := max(ar.FirstOffset, covered); off <= ar.LastOffset; {
			rd, err := h.logs.Read(topic, part, off, log.ReadOptions{MaxBytes: shareReadBytes, MaxUnits: int(ar.LastOffset - off + 1)})
			if err != nil {
				return nil, err
			}
			ps, _, _ := h.fetchParts(ctx, topic, part, start, rd.Entries)
			for _, p := range ps {
				out = append(out, p...)
			}
			next := rd.Next
			rd.Release()
			if next <= off {
				break // nothing there any more (retention): the client acks a gap
			}
			off, covered = next, next
		}
	}
	return out, nil
}

// shareWait parks until a session partition may have something: an
// append past what the group has taken, a lock that expires, records
// settled by a Kafka member (released, or room under the in-flight
// bound), the deadline, or the listener draining. It reports false at the deadline.
func (h *Handler) shareWait(m shareMember, parts []sharePart, deadline time.Time, settled <-chan struct{}) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	now := h.cfg.Now()
	type at struct {
		topic string
		part  int32
		next  int64
	}
	var watch []at
	for _, sp := range parts {
		k := pop.Key{Group: m.group, Topic: sp.topic, Queue: sp.part}
		s, ok := h.cfg.Pop.Status(k)
		if ok && s.HasDeadline {
			d = min(d, max(time.UnixMilli(s.NextDeadline).Sub(now), time.Millisecond))
		}
		if ok && s.InFlight >= h.cfg.Pop.MaxInFlight() {
			continue
		}
		next := s.Next
		if !ok {
			_, end, err := h.queueRange(sp.topic, sp.part)
			if err != nil {
				continue
			}
			next = end
		}
		watch = append(watch, at{sp.topic, sp.part, next})
	}
	ctx, cancel := context.WithTimeout(h.share.ctx, d)
	defer cancel()
	go func() {
		select {
		case <-settled:
			cancel()
		case <-ctx.Done():
		}
	}()
	for _, w := range watch {
		go func() {
			if h.logs.WaitVisible(ctx, w.topic, w.part, w.next) == nil {
				cancel()
			}
		}()
	}
	<-ctx.Done()
	return time.Now().Before(deadline) && h.share.ctx.Err() == nil
}
