package kafkaapi

import (
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/quota"
)

// Client quotas (KIP-13, KIP-546) with Config.Quotas: DescribeClientQuotas
// and AlterClientQuotas read and write the quota store, and Produce and
// Fetch are metered against producer_byte_rate and consumer_byte_rate of
// the client's user (the principal's name) and client id. A client over
// its rate gets throttle_time_ms in the response, which clients wait out
// before their next request to this broker, and its connection reads
// nothing more for that long (Kafka mutes the channel the same way, for
// clients that do not wait): the request's done is called only after the
// throttle, so netio's Serial ordering holds the next frame.

// quotaHook meters Produce (the bytes it carries) and Fetch (the bytes
// its response carries) when quotas are configured.
func (h *Handler) quotaHook(r *request, req kmsg.Request) {
	if h.cfg.Quotas == nil || !h.cfg.Quotas.Active() {
		return
	}
	switch q := req.(type) {
	case *kmsg.ProduceRequest:
		n := 0
		for _, t := range q.Topics {
			for _, p := range t.Partitions {
				n += len(p.Records)
			}
		}
		d := h.cfg.Quotas.Throttle(r.principal().Name(), r.clientID(), quota.ProducerByteRate, n, time.Now())
		r.throttle = d
		r.addPatch(func(s kmsg.Response) { s.(*kmsg.ProduceResponse).ThrottleMillis += int32(d / time.Millisecond) })
	case *kmsg.FetchRequest:
		r.addPatch(func(s kmsg.Response) {
			resp := s.(*kmsg.FetchResponse)
			n := r.fetchBytes // set by replyParts, whose batches are markers
			if n < 0 {
				n = 0
				for _, t := range resp.Topics {
					for _, p := range t.Partitions {
						n += len(p.RecordBatches)
					}
				}
			}
			d := h.cfg.Quotas.Throttle(r.principal().Name(), r.clientID(), quota.ConsumerByteRate, n, time.Now())
			r.throttle = d
			resp.ThrottleMillis += int32(d / time.Millisecond)
		})
	}
}

// release ends the request after its throttle (now if none).
func (r *request) release() {
	if r.throttle > 0 {
		time.AfterFunc(r.throttle, r.done)
		return
	}
	r.done()
}

// describeQuotas is DescribeClientQuotas with a quota store.
func (h *Handler) describeQuotas(r *request, req *kmsg.DescribeClientQuotasRequest, resp *kmsg.DescribeClientQuotasResponse) {
	filter := make([]quota.Match, 0, len(req.Components))
	for _, c := range req.Components {
		m := quota.Match{Type: c.EntityType, Kind: int8(c.MatchType)}
		if c.Match != nil {
			m.Name = *c.Match
		}
		filter = append(filter, m)
	}
	for _, e := range h.cfg.Quotas.Describe(filter, req.Strict) {
		re := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, c := range e.Entity {
			ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = c.Type, c.Name
			re.Entity = append(re.Entity, ent)
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range e.Values {
				if !yield(k) {
					return
				}
			}
		}) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, e.Values[k]
			re.Values = append(re.Values, v)
		}
		resp.Entries = append(resp.Entries, re)
	}
	r.reply(resp)
}

// alterQuotas is AlterClientQuotas with a quota store: each entry is
// applied (or with ValidateOnly checked) on its own.
func (h *Handler) alterQuotas(r *request, req *kmsg.AlterClientQuotasRequest) {
	resp := req.ResponseKind().(*kmsg.AlterClientQuotasResponse)
	for _, e := range req.Entries {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		entity := make([]quota.Component, 0, len(e.Entity))
		for _, c := range e.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = c.Type, c.Name
			re.Entity = append(re.Entity, ent)
			entity = append(entity, quota.Component{Type: c.Type, Name: c.Name})
		}
		ops := make([]quota.Op, 0, len(e.Ops))
		for _, o := range e.Ops {
			ops = append(ops, quota.Op{Key: o.Key, Value: o.Value, Remove: o.Remove})
		}
		if err := h.cfg.Quotas.Alter(entity, ops, req.ValidateOnly); err != nil {
			re.ErrorCode = errUnknownServerError
			if errors.Is(err, quota.ErrInvalid) {
				re.ErrorCode = errInvalidRequest
			}
			re.ErrorMessage = strp(err.Error())
		}
		resp.Entries = append(resp.Entries, re)
	}
	r.reply(resp)
}
