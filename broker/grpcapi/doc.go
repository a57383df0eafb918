// Package grpcapi is the RocketMQ 5 gRPC adapter: it serves
// apache.rocketmq.v2.MessagingService (the protocol of RocketMQ's proxy,
// which the v5 SDKs speak) from the broker itself, over the same broker
// services as the remoting and Kafka adapters.
//
// A message sent here is an ordinary twinmq message: stored in RocketMQ's
// stored-message encoding through broker/log, so remoting consumers pull
// it and Kafka consumers fetch it as they would any other, and a
// SimpleConsumer receives what remoting and Kafka producers wrote. Receive,
// ack and change-invisible-duration run on the POP engine (broker/pop);
// this package only turns its deliveries into protobuf messages and its
// errors into apache.rocketmq.v2.Code values (codes.go).
//
// One file per RPC family: route.go (QueryRoute, QueryAssignment,
// Heartbeat, NotifyClientTermination), telemetry.go, send.go, receive.go,
// ack.go (AckMessage, ChangeInvisibleDuration,
// ForwardMessageToDeadLetterQueue); message.go converts messages.
// See docs/grpc.md for what is served and what is not.
package grpcapi
