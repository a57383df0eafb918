package grpcapi

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/twinmq/twinmq/wire/rmqpb"
)

// The adapter's metrics hooks, the same shapes as the remoting and Kafka
// adapters' (cmd/twinmq registers what they report to): per-topic
// traffic with protocol="grpc", each RPC's latency, the store-to-receive
// latency, and retries (redeliveries) and dead letters per group.

// TopicMeter counts the messages and bytes that producers append to a
// topic (In) and that consumers are sent (Out).
type TopicMeter interface {
	In(topic string, messages, bytes int)
	Out(topic string, messages, bytes int)
}

// Observer receives a duration in seconds; a Prometheus histogram's child
// (prometheus.Observer) is one.
type Observer interface{ Observe(seconds float64) }

// RetryMeter counts, per consumer group and topic, messages delivered
// again after a failed or expired attempt (Retried) and messages moved to
// the group's dead-letter topic (DeadLettered).
type RetryMeter interface {
	Retried(group, topic string)
	DeadLettered(group, topic string)
}

// metrics holds the hooks; each is nil until set. Set them before the
// server serves: they are read without a lock.
type metrics struct {
	meter   TopicMeter
	e2e     Observer
	retries RetryMeter
	resolve func(rpc string) Observer
	latency sync.Map // full method name -> Observer, resolved once each
	// consumeOff reports a group whose subscription-group config turns
	// consumption off (not a metric: the one hook the RocketMQ admin
	// configs need here; SetConsumeDisabled).
	consumeOff func(group string) bool
}

// SetConsumeDisabled makes ReceiveMessage refuse, with FORBIDDEN, the
// groups off reports (RocketMQ's subscription-group consumeEnable false,
// as Java's POP path refuses them). Call it before serving.
func (s *Server) SetConsumeDisabled(off func(group string) bool) { s.metrics.consumeOff = off }

// SetTopicMeter makes the server count sent and received messages per
// topic on m. Call it before serving.
func (s *Server) SetTopicMeter(m TopicMeter) { s.metrics.meter = m }

// SetEndToEnd makes the server report, for each message a ReceiveMessage
// returns, the time from its store timestamp to the answer, to o. Call it
// before serving.
func (s *Server) SetEndToEnd(o Observer) { s.metrics.e2e = o }

// SetRetryMeter makes the server count redeliveries and dead letters on
// m. Call it before serving.
func (s *Server) SetRetryMeter(m RetryMeter) { s.metrics.retries = m }

// SetLatency makes the server report each RPC's time, from its arrival to
// its answer (a ReceiveMessage's long poll included; Telemetry streams,
// which last as long as the client, are not measured), to the Observer
// resolve returns for the RPC's name ("SendMessage" ...), called once per
// RPC, here for every RPC of the service (so each shows, at zero, before
// its first call). Call it before serving.
func (s *Server) SetLatency(resolve func(rpc string) Observer) {
	s.metrics.resolve = resolve
	desc := rmqpb.MessagingService_ServiceDesc
	for _, m := range desc.Methods {
		s.metrics.observer("/" + desc.ServiceName + "/" + m.MethodName)
	}
	for _, st := range desc.Streams {
		if !st.ClientStreams { // Telemetry is not measured
			s.metrics.observer("/" + desc.ServiceName + "/" + st.StreamName)
		}
	}
}

// observer returns the latency Observer of a full method name
// ("/apache.rocketmq.v2.MessagingService/SendMessage"), or nil.
func (m *metrics) observer(fullMethod string) Observer {
	if m.resolve == nil {
		return nil
	}
	if o, ok := m.latency.Load(fullMethod); ok {
		return o.(Observer)
	}
	name := fullMethod
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			name = name[i+1:]
			break
		}
	}
	o, _ := m.latency.LoadOrStore(fullMethod, m.resolve(name))
	return o.(Observer)
}

// unaryTimer is the unary interceptor that observes an RPC's latency.
func (s *Server) unaryTimer(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	o := s.metrics.observer(info.FullMethod)
	if o == nil {
		return h(ctx, req)
	}
	start := time.Now()
	resp, err := h(ctx, req)
	o.Observe(time.Since(start).Seconds())
	return resp, err
}

// streamTimer is the stream interceptor that observes a streaming RPC's
// latency, Telemetry's excepted.
func (s *Server) streamTimer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	o := s.metrics.observer(info.FullMethod)
	if o == nil || info.IsClientStream {
		return h(srv, ss)
	}
	start := time.Now()
	err := h(srv, ss)
	o.Observe(time.Since(start).Seconds())
	return err
}

// countIn counts a send's messages and body bytes.
func (m *metrics) countIn(topic string, messages, bytes int) {
	if m.meter != nil {
		m.meter.In(topic, messages, bytes)
	}
}

// delivered counts a message a ReceiveMessage sends: traffic out, its
// store-to-receive latency and, past its first attempt, a retry.
func (m *metrics) delivered(group, topic string, bodyLen int, storeMs int64, attempts int32, now time.Time) {
	if m.meter != nil {
		m.meter.Out(topic, 1, bodyLen)
	}
	if m.e2e != nil {
		m.e2e.Observe(float64(max(now.UnixMilli()-storeMs, 0)) / 1e3)
	}
	if m.retries != nil && attempts > 1 {
		m.retries.Retried(group, topic)
	}
}
