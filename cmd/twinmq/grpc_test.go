package main

import (
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

func TestGRPCListenAddr(t *testing.T) {
	for _, c := range []struct{ grpc, remoting, want string }{
		{"", ":10911", ":8081"},
		{"", "127.0.2.11:10911", "127.0.2.11:8081"},
		{"", "127.0.0.1:0", "127.0.0.1:0"},
		{"10.0.0.1:9000", ":10911", "10.0.0.1:9000"},
	} {
		got, err := grpcListenAddr(Config{GRPCAddr: c.grpc, RemotingAddr: c.remoting})
		if err != nil || got != c.want {
			t.Errorf("grpcAddr %q remotingAddr %q: %q %v, want %q", c.grpc, c.remoting, got, err, c.want)
		}
	}
}

// TestServeGRPC: `twinmq serve` with free ports serves RocketMQ 5 gRPC;
// a message sent there is stored (its queue offset answered).
func TestServeGRPC(t *testing.T) {
	cfg := testConfig(t, nil)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	re := regexp.MustCompile(`msg="RocketMQ 5 gRPC listening" addr=(\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	var addr string
	for addr == "" {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no gRPC listener; logs:\n%s", logs)
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cli := rmqpb.NewMessagingServiceClient(conn)
	resp, err := cli.SendMessage(context.Background(), &rmqpb.SendMessageRequest{Messages: []*rmqpb.Message{{
		Topic: &rmqpb.Resource{Name: "served"}, Body: []byte("hi"), SystemProperties: &rmqpb.SystemProperties{}}}})
	if err != nil || resp.GetStatus().GetCode() != rmqpb.Code_OK || len(resp.GetEntries()) != 1 || resp.GetEntries()[0].GetOffset() != 0 {
		t.Fatalf("send: %+v %v", resp, err)
	}

	// Received, not acknowledged: after its 1 s invisibility it comes
	// back (a retry of group g), then goes to the dead-letter topic.
	receive := func() *rmqpb.Message {
		t.Helper()
		st, err := cli.ReceiveMessage(context.Background(), &rmqpb.ReceiveMessageRequest{Group: &rmqpb.Resource{Name: "g"},
			MessageQueue:     &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: "served"}, Id: 0},
			FilterExpression: &rmqpb.FilterExpression{Type: rmqpb.FilterType_TAG, Expression: "*"},
			BatchSize:        1, InvisibleDuration: durationpb.New(time.Second), LongPollingTimeout: durationpb.New(10 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		var got *rmqpb.Message
		for {
			r, err := st.Recv()
			if err != nil {
				break
			}
			if m := r.GetMessage(); m != nil {
				got = m
			}
		}
		if got == nil {
			t.Fatal("received nothing")
		}
		return got
	}
	receive()
	m := receive()
	if a := m.GetSystemProperties().GetDeliveryAttempt(); a != 2 {
		t.Fatalf("second delivery attempt %d", a)
	}
	dlq, err := cli.ForwardMessageToDeadLetterQueue(context.Background(), &rmqpb.ForwardMessageToDeadLetterQueueRequest{
		Group: &rmqpb.Resource{Name: "g"}, Topic: &rmqpb.Resource{Name: "served"}, ReceiptHandle: m.GetSystemProperties().GetReceiptHandle(),
		MessageId: m.GetSystemProperties().GetMessageId(), DeliveryAttempt: 2, MaxDeliveryAttempts: 2})
	if err != nil || dlq.GetStatus().GetCode() != rmqpb.Code_OK {
		t.Fatalf("forward to the DLQ: %+v %v", dlq, err)
	}

	// A group whose subscription-group config turns consumption off
	// (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP) is refused with FORBIDDEN.
	rc, err := nameserver.Dial(t.Context(), listenAddr(t, logs, "RocketMQ remoting"))
	if err != nil {
		t.Fatal(err)
	}
	upd := remoting.NewRequest(200, 0)
	upd.Body = []byte(`{"groupName":"off","consumeEnable":false}`)
	if r, err := rc.Invoke(t.Context(), upd); err != nil || r.Code != remoting.Success {
		t.Fatalf("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: %v %+v", err, r)
	}
	// An offset stored over gRPC (UpdateOffset) is the one offset table:
	// a remoting QUERY_CONSUMER_OFFSET of the group reads it.
	if u, err := cli.UpdateOffset(context.Background(), &rmqpb.UpdateOffsetRequest{Group: &rmqpb.Resource{Name: "g-off"},
		MessageQueue: &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: "served"}, Id: 0}, Offset: 1}); err != nil || u.GetStatus().GetCode() != rmqpb.Code_OK {
		t.Fatalf("UpdateOffset: %+v %v", u, err)
	}
	qo := remoting.NewRequest(remoting.QueryConsumerOffset, 0)
	qo.ExtFields["consumerGroup"], qo.ExtFields["topic"], qo.ExtFields["queueId"] = "g-off", "served", "0"
	if r, err := rc.Invoke(t.Context(), qo); err != nil || r.Code != remoting.Success || r.ExtFields["offset"] != "1" {
		t.Fatalf("QUERY_CONSUMER_OFFSET of an offset stored over gRPC: %v %+v", err, r)
	}
	rc.Close()
	st, err := cli.ReceiveMessage(context.Background(), &rmqpb.ReceiveMessageRequest{Group: &rmqpb.Resource{Name: "off"},
		MessageQueue:     &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: "served"}, Id: 0},
		FilterExpression: &rmqpb.FilterExpression{Type: rmqpb.FilterType_TAG, Expression: "*"},
		BatchSize:        1, InvisibleDuration: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := st.Recv(); err != nil || r.GetStatus().GetCode() != rmqpb.Code_FORBIDDEN {
		t.Fatalf("receive of a group with consumption off: %+v %v", r, err)
	}

	// gRPC traffic in the per-topic counters (protocol="grpc"), its RPCs'
	// latency, its store-to-receive latency, the group's retry and dead
	// letter.
	body := httpGet(t, "http://"+listenAddr(t, logs, "HTTP")+"/metrics")
	for series, want := range map[string]float64{
		`twinmq_topic_messages_in_total{topic="served",protocol="grpc"}`:              1,
		`twinmq_topic_bytes_in_total{topic="served",protocol="grpc"}`:                 2,
		`twinmq_topic_messages_out_total{topic="served",protocol="grpc"}`:             2,
		`rocketmq_messages_in_total{topic="served"}`:                                  1,
		`twinmq_grpc_request_duration_seconds{rpc="SendMessage"}`:                     1,
		`twinmq_grpc_request_duration_seconds{rpc="ReceiveMessage"}`:                  3, // the refused one too
		`twinmq_grpc_request_duration_seconds{rpc="ForwardMessageToDeadLetterQueue"}`: 1,
		`twinmq_end_to_end_latency_seconds{protocol="grpc"}`:                          2,
		`twinmq_group_retries_total{group="g",topic="served"}`:                        1,
		`twinmq_group_dlq_messages_total{group="g",topic="served"}`:                   1,
		`rocketmq_send_to_dlq_messages_total{consumer_group="g",topic="served"}`:      1,
	} {
		if v, ok := seriesValue(t, body, series); !ok || v != want {
			t.Errorf("%s = %v (found %v), want %v", series, v, ok, want)
		}
	}
}
