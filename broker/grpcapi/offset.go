package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// Consumer offsets (UpdateOffset, GetOffset, QueryOffset): the RPCs a
// RocketMQ 5 client uses to keep a queue's consume position itself (the
// lite push consumer, a pull consumer) instead of POP's. They read and
// write the broker's one offset table (Config.Offsets), the same a
// remoting consumer and a Kafka consumer group of that name use.

var (
	errIllegalOffset  = errors.New("illegal offset")
	errOffsetNotFound = errors.New("offset not found")
)

// OffsetStore is the consumer offset table (broker/offsets.Table).
type OffsetStore interface {
	Commit(ctx context.Context, group, topic string, queue int32, offset int64) error
	Fetch(group, topic string, queue int32) (int64, bool)
}

// offsetQueue checks a request's message queue: a known topic (not an
// internal one) and a queue id it has.
func (s *Server) offsetQueue(mq *rmqpb.MessageQueue) (topics.Config, int32, error) {
	name := mq.GetTopic().GetName()
	if err := validName(errIllegalTopic, name); err != nil {
		return topics.Config{}, 0, err
	}
	t, ok := s.topics.Get(name)
	if !ok || t.Internal {
		return topics.Config{}, 0, errf(errTopicNotFound, "topic %s", name)
	}
	q := mq.GetId()
	if q < 0 || q >= t.Queues {
		return topics.Config{}, 0, errf(errBadRequest, "queue %d of %s (it has %d)", q, name, t.Queues)
	}
	return t, q, nil
}

// UpdateOffset stores group's offset of a queue.
func (s *Server) UpdateOffset(ctx context.Context, req *rmqpb.UpdateOffsetRequest) (*rmqpb.UpdateOffsetResponse, error) {
	err := s.updateOffset(ctx, req)
	if err != nil {
		return &rmqpb.UpdateOffsetResponse{Status: status(err)}, nil
	}
	return &rmqpb.UpdateOffsetResponse{Status: ok()}, nil
}

func (s *Server) updateOffset(ctx context.Context, req *rmqpb.UpdateOffsetRequest) error {
	if s.cfg.Offsets == nil {
		return errf(errUnsupported, "consumer offsets")
	}
	group := req.GetGroup().GetName()
	if err := validName(errIllegalGroup, group); err != nil {
		return err
	}
	t, q, err := s.offsetQueue(req.GetMessageQueue())
	if err != nil {
		return err
	}
	if req.GetOffset() < 0 {
		return errf(errIllegalOffset, "offset %d", req.GetOffset())
	}
	if err := s.cfg.Offsets.Commit(ctx, group, t.Name, q, req.GetOffset()); err != nil {
		return fmt.Errorf("grpcapi: update offset: %w", err)
	}
	return nil
}

// GetOffset returns group's stored offset of a queue, OFFSET_NOT_FOUND
// when it has none.
func (s *Server) GetOffset(ctx context.Context, req *rmqpb.GetOffsetRequest) (*rmqpb.GetOffsetResponse, error) {
	if s.cfg.Offsets == nil {
		return &rmqpb.GetOffsetResponse{Status: status(errf(errUnsupported, "consumer offsets"))}, nil
	}
	group := req.GetGroup().GetName()
	if err := validName(errIllegalGroup, group); err != nil {
		return &rmqpb.GetOffsetResponse{Status: status(err)}, nil
	}
	t, q, err := s.offsetQueue(req.GetMessageQueue())
	if err != nil {
		return &rmqpb.GetOffsetResponse{Status: status(err)}, nil
	}
	off, found := s.cfg.Offsets.Fetch(group, t.Name, q)
	if !found {
		return &rmqpb.GetOffsetResponse{Status: status(errf(errOffsetNotFound, "group %s has no offset of %s/%d", group, t.Name, q))}, nil
	}
	return &rmqpb.GetOffsetResponse{Status: ok(), Offset: off}, nil
}

// QueryOffset answers a queue's first offset (BEGINNING), its end (END),
// or the first offset stored at or after a time (TIMESTAMP; the end when
// none is).
func (s *Server) QueryOffset(ctx context.Context, req *rmqpb.QueryOffsetRequest) (*rmqpb.QueryOffsetResponse, error) {
	t, q, err := s.offsetQueue(req.GetMessageQueue())
	if err != nil {
		return &rmqpb.QueryOffsetResponse{Status: status(err)}, nil
	}
	start, end, err := s.logs.Range(t.Name, q)
	if errors.Is(err, log.ErrQueueNotFound) {
		start, end, err = 0, 0, nil // a queue without a message yet
	}
	if err != nil {
		return &rmqpb.QueryOffsetResponse{Status: status(err)}, nil
	}
	var off int64
	switch req.GetQueryOffsetPolicy() {
	case rmqpb.QueryOffsetPolicy_BEGINNING:
		off = start
	case rmqpb.QueryOffsetPolicy_END:
		off = end
	case rmqpb.QueryOffsetPolicy_TIMESTAMP:
		ts := req.GetTimestamp()
		if ts == nil || ts.CheckValid() != nil {
			return &rmqpb.QueryOffsetResponse{Status: status(errf(errBadRequest, "TIMESTAMP without a valid timestamp"))}, nil
		}
		if end == start {
			off = end
			break
		}
		if off, err = s.logs.OffsetForTime(t.Name, q, ts.AsTime().UnixMilli()); err != nil {
			return &rmqpb.QueryOffsetResponse{Status: status(err)}, nil
		}
	default:
		return &rmqpb.QueryOffsetResponse{Status: status(errf(errBadRequest, "query offset policy %d", req.GetQueryOffsetPolicy()))}, nil
	}
	return &rmqpb.QueryOffsetResponse{Status: ok(), Offset: off}, nil
}
