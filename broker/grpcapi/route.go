package grpcapi

import (
	"context"
	"errors"
	"strings"

	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

const (
	retryPrefix = "%RETRY%"
	dlqPrefix   = "%DLQ%"
	maxNameLen  = 127
)

// validName applies RocketMQ's rules for topic and group names
// (TopicValidator): [%|a-zA-Z0-9_-], 1..127 bytes, and not one of
// twinmq's internal names.
func validName(kind error, name string) error {
	if name == "" || len(name) > maxNameLen {
		return errf(kind, "%q: length %d not in [1, %d]", name, len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '|' || c == '_' || c == '-') {
			return errf(kind, "%q has character %q", name, c)
		}
	}
	if strings.HasPrefix(name, topics.InternalPrefix) {
		return errf(kind, "%q is internal", name)
	}
	return nil
}

// topic returns the named topic, creating it when AutoCreateTopics.
func (s *Server) topic(ctx context.Context, r *rmqpb.Resource) (topics.Config, error) {
	name := r.GetName()
	if err := validName(errIllegalTopic, name); err != nil {
		return topics.Config{}, err
	}
	if t, ok := s.topics.Get(name); ok {
		return t, nil
	}
	if !s.cfg.AutoCreateTopics {
		return topics.Config{}, errf(errTopicNotFound, "topic %s", name)
	}
	return s.ensureTopic(ctx, name, s.cfg.DefaultTopicQueues)
}

// ensureTopic returns topic, creating it with queues if it does not
// exist. The remoting adapter watches the registry and registers the new
// topic with the name servers.
func (s *Server) ensureTopic(ctx context.Context, name string, queues int32) (topics.Config, error) {
	if t, ok := s.topics.Get(name); ok {
		return t, nil
	}
	t, err := s.topics.Create(ctx, topics.Config{Name: name, Queues: queues, Perm: topics.DefaultPerm})
	if errors.Is(err, topics.ErrTopicExists) {
		if t, ok := s.topics.Get(name); ok {
			return t, nil
		}
	}
	return t, err
}

// messageQueues are the queues of t, all on this broker.
func (s *Server) messageQueues(t topics.Config, r *rmqpb.Resource) []*rmqpb.MessageQueue {
	perm := rmqpb.Permission_NONE
	switch t.Perm & 6 {
	case 6:
		perm = rmqpb.Permission_READ_WRITE
	case 4:
		perm = rmqpb.Permission_READ
	case 2:
		perm = rmqpb.Permission_WRITE
	}
	broker := &rmqpb.Broker{Name: s.cfg.BrokerName, Id: 0, Endpoints: s.endpoints}
	types := []rmqpb.MessageType{rmqpb.MessageType_NORMAL, rmqpb.MessageType_FIFO, rmqpb.MessageType_DELAY}
	out := make([]*rmqpb.MessageQueue, t.Queues)
	for i := range out {
		out[i] = &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: t.Name, ResourceNamespace: r.GetResourceNamespace()},
			Id: int32(i), Permission: perm, Broker: broker, AcceptMessageTypes: types}
	}
	return out
}

// QueryRoute answers the queues of a topic, all served by this broker's
// gRPC endpoint.
func (s *Server) QueryRoute(ctx context.Context, req *rmqpb.QueryRouteRequest) (*rmqpb.QueryRouteResponse, error) {
	t, err := s.topic(ctx, req.GetTopic())
	if err != nil {
		return &rmqpb.QueryRouteResponse{Status: status(err)}, nil
	}
	return &rmqpb.QueryRouteResponse{Status: ok(), MessageQueues: s.messageQueues(t, req.GetTopic())}, nil
}

// QueryAssignment answers, for a push consumer, every queue of the topic:
// the POP engine shares them among the group's members.
func (s *Server) QueryAssignment(ctx context.Context, req *rmqpb.QueryAssignmentRequest) (*rmqpb.QueryAssignmentResponse, error) {
	if err := validName(errIllegalGroup, req.GetGroup().GetName()); err != nil {
		return &rmqpb.QueryAssignmentResponse{Status: status(err)}, nil
	}
	t, err := s.topic(ctx, req.GetTopic())
	if err != nil {
		return &rmqpb.QueryAssignmentResponse{Status: status(err)}, nil
	}
	var out []*rmqpb.Assignment
	for _, q := range s.messageQueues(t, req.GetTopic()) {
		out = append(out, &rmqpb.Assignment{MessageQueue: q})
	}
	return &rmqpb.QueryAssignmentResponse{Status: ok(), Assignments: out}, nil
}

// Heartbeat keeps nothing: the POP engine needs no membership.
func (s *Server) Heartbeat(ctx context.Context, req *rmqpb.HeartbeatRequest) (*rmqpb.HeartbeatResponse, error) {
	if g := req.GetGroup(); g != nil && g.GetName() != "" {
		if err := validName(errIllegalGroup, g.GetName()); err != nil {
			return &rmqpb.HeartbeatResponse{Status: status(err)}, nil
		}
	}
	return &rmqpb.HeartbeatResponse{Status: ok()}, nil
}

// NotifyClientTermination forgets the client; its locked records come
// back when their invisible times end.
func (s *Server) NotifyClientTermination(ctx context.Context, req *rmqpb.NotifyClientTerminationRequest) (*rmqpb.NotifyClientTerminationResponse, error) {
	if id := clientID(ctx); id != "" {
		s.mu.Lock()
		delete(s.clients, id)
		s.mu.Unlock()
	}
	return &rmqpb.NotifyClientTerminationResponse{Status: ok()}, nil
}
