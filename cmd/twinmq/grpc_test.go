package main

import (
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

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
}
