// Package rmqpb is the generated Go code of RocketMQ 5's gRPC protocol
// (apache.rocketmq.v2: MessagingService and its messages), from the
// apache/rocketmq-apis repository. gen.sh regenerates it and says which
// commit of the definitions it takes; nothing here is written by hand.
//
// The proto package is renamed twinmq.rmqpb.v2 so that the broker and
// RocketMQ's Go client (which registers apache.rocketmq.v2) can share a
// process; the wire bytes and the gRPC method paths
// (/apache.rocketmq.v2.MessagingService/...) are RocketMQ's (gen.sh says
// why in full).
package rmqpb
