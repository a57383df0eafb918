package grpcapi

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/twinmq/twinmq/wire/rmqpb"
)

// clientID is the x-mq-client-id header every v5 client sends.
func clientID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-mq-client-id"); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Telemetry is the settings stream every v5 client opens at start: the
// client sends its settings, the broker answers with the settings it
// applies (body size limit, retry policy). A stream that sends no
// settings within SettingsTimeout is ended with DEADLINE_EXCEEDED, so a
// client that never identifies itself holds no stream.
func (s *Server) Telemetry(stream rmqpb.MessagingService_TelemetryServer) error {
	ctx := stream.Context()
	id := clientID(ctx)
	if id != "" {
		// A client is known while its stream is open: the table never
		// outgrows the open streams, whatever ids clients make up.
		defer func() {
			s.mu.Lock()
			delete(s.clients, id)
			s.mu.Unlock()
		}()
	}
	cmds := make(chan *rmqpb.TelemetryCommand)
	errc := make(chan error, 1)
	go func() {
		for {
			c, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case cmds <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	timer := time.NewTimer(s.cfg.SettingsTimeout)
	defer timer.Stop()
	settled := false
	for {
		select {
		case <-s.ctx.Done():
			return grpcstatus.Error(codes.Unavailable, "broker stopping")
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errc:
			if settled {
				return nil // the client closed its side
			}
			return err
		case <-timer.C:
			if !settled {
				return grpcstatus.Error(codes.DeadlineExceeded, "no settings received")
			}
		case c := <-cmds:
			st := c.GetSettings()
			if st == nil {
				continue // thread stack traces, verify results: nothing to do
			}
			settled = true
			reply := s.settings(id, st)
			if err := stream.Send(&rmqpb.TelemetryCommand{Status: ok(), Command: &rmqpb.TelemetryCommand_Settings{Settings: reply}}); err != nil {
				return err
			}
		}
	}
}

// settings records a client's settings and returns the ones the broker
// applies to it.
func (s *Server) settings(id string, in *rmqpb.Settings) *rmqpb.Settings {
	out := proto.Clone(in).(*rmqpb.Settings)
	c := &client{typ: in.GetClientType(), lang: in.GetUserAgent().GetLanguage()}
	switch ps := out.PubSub.(type) {
	case *rmqpb.Settings_Publishing:
		ps.Publishing.MaxBodySize = int32(s.cfg.MaxMessageSize)
		ps.Publishing.ValidateMessageType = true
		if out.BackoffPolicy == nil {
			// A producer that sent none gets the Java client's default
			// (rocketmq-client-nodejs requires one in the answer).
			out.BackoffPolicy = &rmqpb.RetryPolicy{MaxAttempts: 3,
				Strategy: &rmqpb.RetryPolicy_ExponentialBackoff{ExponentialBackoff: &rmqpb.ExponentialBackoff{
					Initial: durationpb.New(10 * time.Millisecond), Max: durationpb.New(time.Second), Multiplier: 2}}}
		}
	case *rmqpb.Settings_Subscription:
		c.group = ps.Subscription.GetGroup().GetName()
		ps.Subscription.ReceiveBatchSize = proto.Int32(s.cfg.MaxReceiveBatch)
		ps.Subscription.LongPollingTimeout = durationpb.New(s.cfg.MaxLongPolling)
		// Exponential, not RocketMQ's customized (delay-level) policy:
		// rocketmq-client-nodejs ignores a customized one and then
		// dead-letters a push consumer's message at its first failure.
		out.BackoffPolicy = &rmqpb.RetryPolicy{MaxAttempts: s.pop.MaxAttempts(),
			Strategy: &rmqpb.RetryPolicy_ExponentialBackoff{ExponentialBackoff: &rmqpb.ExponentialBackoff{
				Initial: durationpb.New(time.Second), Max: durationpb.New(time.Minute), Multiplier: 2}}}
	}
	if id != "" {
		s.mu.Lock()
		s.clients[id] = c
		s.mu.Unlock()
	}
	return out
}
