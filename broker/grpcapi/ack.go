package grpcapi

import (
	"context"

	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// maxAckEntries bounds the entries of one AckMessage.
const maxAckEntries = 1024

// lockOf checks group and topic and decodes a receipt handle: a handle
// that does not decode, or was made for another group or topic, or was
// not made by this broker, is INVALID_RECEIPT_HANDLE before any state is
// looked at.
func (s *Server) lockOf(group, topic, handle string) (pop.Key, pop.Handle, error) {
	if err := validName(errIllegalGroup, group); err != nil {
		return pop.Key{}, pop.Handle{}, err
	}
	if err := validName(errIllegalTopic, topic); err != nil {
		return pop.Key{}, pop.Handle{}, err
	}
	return s.pop.Decode(group, topic, handle)
}

// AckMessage acknowledges each entry's lock: a record is done only if
// the handle names its live lock. Each entry gets its own status; the
// response's is OK when all are, the one entry's when there is one, else
// MULTIPLE_RESULTS.
func (s *Server) AckMessage(ctx context.Context, req *rmqpb.AckMessageRequest) (*rmqpb.AckMessageResponse, error) {
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	es := req.GetEntries()
	if len(es) == 0 || len(es) > maxAckEntries {
		return &rmqpb.AckMessageResponse{Status: status(errf(errBadRequest, "%d entries, want 1..%d", len(es), maxAckEntries))}, nil
	}
	out := make([]*rmqpb.AckMessageResultEntry, len(es))
	failed := 0
	for i, e := range es {
		k, h, err := s.lockOf(group, topic, e.GetReceiptHandle())
		if err == nil {
			err = s.pop.Ack(ctx, k, h)
		}
		if err != nil {
			failed++
		}
		out[i] = &rmqpb.AckMessageResultEntry{MessageId: e.GetMessageId(), ReceiptHandle: e.GetReceiptHandle(), Status: status(err)}
	}
	st := ok()
	switch {
	case len(out) == 1:
		st = out[0].Status
	case failed > 0:
		st = &rmqpb.Status{Code: rmqpb.Code_MULTIPLE_RESULTS, Message: "some entries failed"}
	}
	return &rmqpb.AckMessageResponse{Status: st, Entries: out}, nil
}

// ChangeInvisibleDuration gives a held lock a new invisible time from now
// and answers the new receipt handle; the old one stops working.
func (s *Server) ChangeInvisibleDuration(ctx context.Context, req *rmqpb.ChangeInvisibleDurationRequest) (*rmqpb.ChangeInvisibleDurationResponse, error) {
	k, h, err := s.lockOf(req.GetGroup().GetName(), req.GetTopic().GetName(), req.GetReceiptHandle())
	if err != nil {
		return &rmqpb.ChangeInvisibleDurationResponse{Status: status(err)}, nil
	}
	inv := req.GetInvisibleDuration()
	// 0 releases the record at once (a nack); otherwise the receive bounds.
	if inv == nil || inv.CheckValid() != nil || inv.AsDuration() < 0 || inv.AsDuration() > s.cfg.MaxInvisible {
		return &rmqpb.ChangeInvisibleDurationResponse{Status: status(errf(errIllegalInvis, "invisible duration %v", inv.AsDuration()))}, nil
	}
	_, handle, err := s.pop.Change(ctx, k, h, inv.AsDuration())
	if err != nil {
		return &rmqpb.ChangeInvisibleDurationResponse{Status: status(err)}, nil
	}
	return &rmqpb.ChangeInvisibleDurationResponse{Status: ok(), ReceiptHandle: handle}, nil
}

// ForwardMessageToDeadLetterQueue dead-letters a held record at once (a
// push consumer whose listener gave up on it).
func (s *Server) ForwardMessageToDeadLetterQueue(ctx context.Context, req *rmqpb.ForwardMessageToDeadLetterQueueRequest) (*rmqpb.ForwardMessageToDeadLetterQueueResponse, error) {
	group, topic := req.GetGroup().GetName(), req.GetTopic().GetName()
	k, h, err := s.lockOf(group, topic, req.GetReceiptHandle())
	if err != nil {
		return &rmqpb.ForwardMessageToDeadLetterQueueResponse{Status: status(err)}, nil
	}
	t, ok := s.topics.Get(topic)
	if !ok {
		return &rmqpb.ForwardMessageToDeadLetterQueueResponse{Status: status(errf(errTopicNotFound, "topic %s", topic))}, nil
	}
	src := s.source(group, t, k.Queue, filter{})
	err = s.pop.Dead(ctx, k, h, func(attempts int32) error {
		m, found, err := src.At(h.Offset)
		if err != nil || !found {
			if err == nil {
				err = errf(errNotFound, "offset %d of %s/%d is gone", h.Offset, topic, k.Queue)
			}
			return err
		}
		return s.deadLetter(ctx, group, m, attempts)
	})
	return &rmqpb.ForwardMessageToDeadLetterQueueResponse{Status: status(err)}, nil
}
