package grpcapi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// clock is the settable clock the server and its POP engine share, so
// lock expiry is stepped, not slept.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	clk    *clock
	logs   *log.Log
	srv    *Server
	cli    rmqpb.MessagingServiceClient
	addr   string
	engine *pop.Engine
}

// start serves a real store on a loopback port and returns a plaintext
// client of it; topic "t" has two queues.
func start(t *testing.T, edit func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	lg := slog.New(slog.DiscardHandler)
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 4 << 20, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg, err := topics.Open(ctx, store, lg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if _, err := reg.Create(ctx, topics.Config{Name: "t", Queues: 2, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.UnixMilli(1_700_000_000_000)}
	engine, err := pop.Open(ctx, store, pop.Options{Logger: lg, Now: clk.now, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(engine.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	offs, err := offsets.Open(ctx, store, lg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(offs.Close)
	cfg := Config{Endpoint: ln.Addr().String(), StoreHost: "127.0.0.1:10911", Logger: lg, Now: clk.now,
		MaxLongPolling: 100 * time.Millisecond, SettingsTimeout: 100 * time.Millisecond, Offsets: offs}
	if edit != nil {
		edit(&cfg)
	}
	logs := log.New(store)
	s, err := New(cfg, logs, reg, engine)
	if err != nil {
		t.Fatal(err)
	}
	g := s.GRPCServer()
	go func() { _ = Serve(g, ln) }()
	t.Cleanup(func() { s.Close(); g.Stop() })
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &fixture{clk: clk, logs: logs, srv: s, cli: rmqpb.NewMessagingServiceClient(conn), addr: ln.Addr().String(), engine: engine}
}

func (f *fixture) send(t *testing.T, body string) *rmqpb.SendResultEntry {
	t.Helper()
	resp, err := f.cli.SendMessage(context.Background(), &rmqpb.SendMessageRequest{Messages: []*rmqpb.Message{{
		Topic: &rmqpb.Resource{Name: "t"}, Body: []byte(body), SystemProperties: &rmqpb.SystemProperties{}}}})
	if err != nil || resp.GetStatus().GetCode() != rmqpb.Code_OK {
		t.Fatalf("send: %v %v", resp.GetStatus(), err)
	}
	return resp.GetEntries()[0]
}

// receive runs one ReceiveMessage and returns its messages and status.
func (f *fixture) receive(t *testing.T, req *rmqpb.ReceiveMessageRequest) ([]*rmqpb.Message, *rmqpb.Status) {
	t.Helper()
	stream, err := f.cli.ReceiveMessage(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*rmqpb.Message
	var st *rmqpb.Status
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return msgs, st
		}
		if err != nil {
			t.Fatal(err)
		}
		if m := r.GetMessage(); m != nil {
			msgs = append(msgs, m)
		}
		if s := r.GetStatus(); s != nil {
			st = s
		}
	}
}

func recvReq(group string, batch int32, invisible time.Duration) *rmqpb.ReceiveMessageRequest {
	return &rmqpb.ReceiveMessageRequest{Group: &rmqpb.Resource{Name: group},
		MessageQueue:     &rmqpb.MessageQueue{Topic: &rmqpb.Resource{Name: "t"}, Id: 0},
		FilterExpression: &rmqpb.FilterExpression{Type: rmqpb.FilterType_TAG, Expression: "*"},
		BatchSize:        batch, InvisibleDuration: durationpb.New(invisible)}
}

func (f *fixture) ack(group, topic, handle string) rmqpb.Code {
	resp, err := f.cli.AckMessage(context.Background(), &rmqpb.AckMessageRequest{Group: &rmqpb.Resource{Name: group},
		Topic: &rmqpb.Resource{Name: topic}, Entries: []*rmqpb.AckMessageEntry{{MessageId: "x", ReceiptHandle: handle}}})
	if err != nil {
		return rmqpb.Code_CODE_UNSPECIFIED
	}
	return resp.GetStatus().GetCode()
}

// TestAckBadHandles: a handle that does not parse, a forged one, one for
// another group or topic, an expired one, and a second ack are all
// INVALID_RECEIPT_HANDLE and acknowledge nothing; the record is then
// delivered again, and the live handle acknowledges it.
func TestAckBadHandles(t *testing.T) {
	f := start(t, nil)
	sent := f.send(t, "one")
	msgs, st := f.receive(t, recvReq("g", 1, time.Minute))
	if st.GetCode() != rmqpb.Code_OK || len(msgs) != 1 || msgs[0].GetSystemProperties().GetMessageId() != sent.GetMessageId() {
		t.Fatalf("receive: %v %d", st, len(msgs))
	}
	h := msgs[0].GetSystemProperties().GetReceiptHandle()
	forged := pop.EncodeHandle([]byte("not the broker's secret, 32 byte"), "g", "t",
		pop.Handle{Queue: msgs[0].GetSystemProperties().GetQueueId(), Offset: msgs[0].GetSystemProperties().GetQueueOffset(), Serial: 1})
	for name, c := range map[string][3]string{
		"garbage":     {"g", "t", "not-a-handle"},
		"empty":       {"g", "t", ""},
		"forged":      {"g", "t", forged},
		"other group": {"g2", "t", h},
		"truncated":   {"g", "t", h[:len(h)-1]},
	} {
		if code := f.ack(c[0], c[1], c[2]); code != rmqpb.Code_INVALID_RECEIPT_HANDLE {
			t.Errorf("%s: %v", name, code)
		}
	}
	if code := f.ack("g", "other", h); code != rmqpb.Code_INVALID_RECEIPT_HANDLE {
		t.Errorf("other topic: %v", code)
	}
	if code := f.ack("bad group!", "t", h); code != rmqpb.Code_ILLEGAL_CONSUMER_GROUP {
		t.Errorf("bad group name: %v", code)
	}
	// The lock expires: the old handle no longer acknowledges, and the
	// record is delivered again with attempt 2.
	f.clk.add(time.Minute)
	if code := f.ack("g", "t", h); code != rmqpb.Code_INVALID_RECEIPT_HANDLE {
		t.Errorf("expired: %v", code)
	}
	again, st := f.receive(t, recvReq("g", 1, time.Minute))
	if st.GetCode() != rmqpb.Code_OK || len(again) != 1 || again[0].GetSystemProperties().GetDeliveryAttempt() != 2 {
		t.Fatalf("redelivery: %v %+v", st, again)
	}
	h2 := again[0].GetSystemProperties().GetReceiptHandle()
	if code := f.ack("g", "t", h); code != rmqpb.Code_INVALID_RECEIPT_HANDLE {
		t.Errorf("first delivery's handle after the redelivery: %v", code)
	}
	if code := f.ack("g", "t", h2); code != rmqpb.Code_OK {
		t.Fatalf("live handle: %v", code)
	}
	if code := f.ack("g", "t", h2); code != rmqpb.Code_INVALID_RECEIPT_HANDLE {
		t.Errorf("second ack: %v", code)
	}
	f.clk.add(time.Hour)
	if more, st := f.receive(t, recvReq("g", 1, time.Minute)); len(more) != 0 || st.GetCode() != rmqpb.Code_MESSAGE_NOT_FOUND {
		t.Fatalf("after the ack: %v %d", st, len(more))
	}
	// Another group still gets the record: groups are independent.
	if other, _ := f.receive(t, recvReq("g2", 1, time.Minute)); len(other) != 1 {
		t.Fatalf("group g2 received %d", len(other))
	}
}

// TestChangeInvisibleBadInput: bad handles and durations are refused and
// change nothing.
func TestChangeInvisibleBadInput(t *testing.T) {
	f := start(t, nil)
	f.send(t, "x")
	msgs, _ := f.receive(t, recvReq("g", 1, time.Minute))
	h := msgs[0].GetSystemProperties().GetReceiptHandle()
	change := func(handle string, d *durationpb.Duration) rmqpb.Code {
		resp, err := f.cli.ChangeInvisibleDuration(context.Background(), &rmqpb.ChangeInvisibleDurationRequest{
			Group: &rmqpb.Resource{Name: "g"}, Topic: &rmqpb.Resource{Name: "t"}, ReceiptHandle: handle, InvisibleDuration: d})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetStatus().GetCode()
	}
	if c := change("junk", durationpb.New(time.Second)); c != rmqpb.Code_INVALID_RECEIPT_HANDLE {
		t.Errorf("junk handle: %v", c)
	}
	if c := change(h, nil); c != rmqpb.Code_ILLEGAL_INVISIBLE_TIME {
		t.Errorf("no duration: %v", c)
	}
	if c := change(h, durationpb.New(-time.Second)); c != rmqpb.Code_ILLEGAL_INVISIBLE_TIME {
		t.Errorf("negative: %v", c)
	}
	if c := change(h, durationpb.New(1000*time.Hour)); c != rmqpb.Code_ILLEGAL_INVISIBLE_TIME {
		t.Errorf("too long: %v", c)
	}
	if code := f.ack("g", "t", h); code != rmqpb.Code_OK {
		t.Fatalf("the handle stopped working after refused changes: %v", code)
	}
}

// TestReceiveBadRequests: each bad request gets its code and locks
// nothing.
func TestReceiveBadRequests(t *testing.T) {
	f := start(t, nil)
	f.send(t, "x")
	cases := map[string]struct {
		edit func(*rmqpb.ReceiveMessageRequest)
		code rmqpb.Code
	}{
		"batch 0":            {func(r *rmqpb.ReceiveMessageRequest) { r.BatchSize = 0 }, rmqpb.Code_BAD_REQUEST},
		"huge batch":         {func(r *rmqpb.ReceiveMessageRequest) { r.BatchSize = 1 << 30 }, rmqpb.Code_BAD_REQUEST},
		"negative batch":     {func(r *rmqpb.ReceiveMessageRequest) { r.BatchSize = -5 }, rmqpb.Code_BAD_REQUEST},
		"no invisible":       {func(r *rmqpb.ReceiveMessageRequest) { r.InvisibleDuration = nil }, rmqpb.Code_ILLEGAL_INVISIBLE_TIME},
		"tiny invisible":     {func(r *rmqpb.ReceiveMessageRequest) { r.InvisibleDuration = durationpb.New(time.Millisecond) }, rmqpb.Code_ILLEGAL_INVISIBLE_TIME},
		"bad sql filter":     {func(r *rmqpb.ReceiveMessageRequest) { r.FilterExpression.Type = rmqpb.FilterType_SQL }, rmqpb.Code_ILLEGAL_FILTER_EXPRESSION},
		"bad tag filter":     {func(r *rmqpb.ReceiveMessageRequest) { r.FilterExpression.Expression = "a||\x01" }, rmqpb.Code_ILLEGAL_FILTER_EXPRESSION},
		"unknown topic":      {func(r *rmqpb.ReceiveMessageRequest) { r.MessageQueue.Topic.Name = "nope" }, rmqpb.Code_TOPIC_NOT_FOUND},
		"internal topic":     {func(r *rmqpb.ReceiveMessageRequest) { r.MessageQueue.Topic.Name = "__twinmq_pop" }, rmqpb.Code_ILLEGAL_TOPIC},
		"no group":           {func(r *rmqpb.ReceiveMessageRequest) { r.Group = nil }, rmqpb.Code_ILLEGAL_CONSUMER_GROUP},
		"long poll too long": {func(r *rmqpb.ReceiveMessageRequest) { r.LongPollingTimeout = durationpb.New(time.Hour) }, rmqpb.Code_BAD_REQUEST},
	}
	for name, c := range cases {
		req := recvReq("g", 1, time.Minute)
		c.edit(req)
		msgs, st := f.receive(t, req)
		if st.GetCode() != c.code || len(msgs) != 0 {
			t.Errorf("%s: %v, %d messages", name, st, len(msgs))
		}
	}
	if st, ok := f.engine.Status(pop.Key{Group: "g", Topic: "t", Queue: 0}); ok && st.InFlight != 0 {
		t.Fatalf("bad requests locked %d records", st.InFlight)
	}
	if msgs, _ := f.receive(t, recvReq("g", 32, time.Minute)); len(msgs) != 1 {
		t.Fatalf("a good receive after the bad ones got %d", len(msgs))
	}
}

// TestSendBadInput: each bad message is refused with its code, and
// nothing of the request is stored.
func TestSendBadInput(t *testing.T) {
	f := start(t, func(c *Config) { c.MaxMessageSize = 1024 })
	msg := func(edit func(*rmqpb.Message)) *rmqpb.Message {
		m := &rmqpb.Message{Topic: &rmqpb.Resource{Name: "t"}, Body: []byte("b"), SystemProperties: &rmqpb.SystemProperties{}}
		edit(m)
		return m
	}
	tag := func(s string) *string { return &s }
	cases := map[string]struct {
		msgs []*rmqpb.Message
		code rmqpb.Code
	}{
		"no messages":        {nil, rmqpb.Code_BAD_REQUEST},
		"empty body":         {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.Body = nil })}, rmqpb.Code_MESSAGE_BODY_EMPTY},
		"body too large":     {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.Body = make([]byte, 1025) })}, rmqpb.Code_MESSAGE_BODY_TOO_LARGE},
		"separator in key":   {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.UserProperties = map[string]string{"a\x01b": "v"} })}, rmqpb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY},
		"separator in value": {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.UserProperties = map[string]string{"k": "v\x02"} })}, rmqpb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY},
		"system property":    {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.UserProperties = map[string]string{"UNIQ_KEY": "x"} })}, rmqpb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY},
		"tag with bar":       {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.SystemProperties.Tag = tag("a|b") })}, rmqpb.Code_ILLEGAL_MESSAGE_TAG},
		"key with space":     {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.SystemProperties.Keys = []string{"a b"} })}, rmqpb.Code_ILLEGAL_MESSAGE_PROPERTY_KEY},
		"two topics": {[]*rmqpb.Message{msg(func(*rmqpb.Message) {}), msg(func(m *rmqpb.Message) { m.Topic.Name = "u" })},
			rmqpb.Code_BAD_REQUEST},
		"bad topic":     {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.Topic.Name = "a.b" })}, rmqpb.Code_ILLEGAL_TOPIC},
		"unknown topic": {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.Topic.Name = "nope" })}, rmqpb.Code_TOPIC_NOT_FOUND},
		"delay without policy": {[]*rmqpb.Message{msg(func(m *rmqpb.Message) {
			m.SystemProperties.DeliveryTimestamp = durationpbTimestamp(time.Now().Add(time.Minute))
		})}, rmqpb.Code_ILLEGAL_DELIVERY_TIME},
		"gzip": {[]*rmqpb.Message{msg(func(m *rmqpb.Message) { m.SystemProperties.BodyEncoding = rmqpb.Encoding_GZIP })}, rmqpb.Code_NOT_IMPLEMENTED},
	}
	for name, c := range cases {
		resp, err := f.cli.SendMessage(context.Background(), &rmqpb.SendMessageRequest{Messages: c.msgs})
		if err != nil || resp.GetStatus().GetCode() != c.code {
			t.Errorf("%s: %v %v", name, resp.GetStatus(), err)
		}
	}
	for q := int32(0); q < 2; q++ {
		if _, end, err := f.logs.Range("t", q); err == nil && end != 0 {
			t.Fatalf("queue %d holds %d records after refused sends", q, end)
		}
	}
}

// TestTelemetry: settings get settings back; a stream that never sends
// them is ended with DEADLINE_EXCEEDED.
func TestTelemetry(t *testing.T) {
	f := start(t, nil)
	stream, err := f.cli.Telemetry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&rmqpb.TelemetryCommand{Command: &rmqpb.TelemetryCommand_Settings{Settings: &rmqpb.Settings{
		ClientType: rmqpb.ClientType_PRODUCER.Enum(), PubSub: &rmqpb.Settings_Publishing{Publishing: &rmqpb.Publishing{}}}}}); err != nil {
		t.Fatal(err)
	}
	got, err := stream.Recv()
	if err != nil || got.GetSettings().GetPublishing().GetMaxBodySize() != DefaultMaxMessageSize {
		t.Fatalf("settings: %+v %v", got, err)
	}
	_ = stream.CloseSend()

	silent, err := f.cli.Telemetry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = silent.Recv()
	if grpcstatus.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a stream without settings: %v", err)
	}
}

// TestTLSAndRoute: the same port speaks TLS (the v5 Go client's only
// mode); a route names every queue at the endpoint.
func TestTLSAndRoute(t *testing.T) {
	f := start(t, nil)
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := rmqpb.NewMessagingServiceClient(conn).QueryRoute(context.Background(), &rmqpb.QueryRouteRequest{Topic: &rmqpb.Resource{Name: "t"}})
	if err != nil || resp.GetStatus().GetCode() != rmqpb.Code_OK || len(resp.GetMessageQueues()) != 2 {
		t.Fatalf("%+v %v", resp, err)
	}
	a := resp.GetMessageQueues()[1].GetBroker().GetEndpoints().GetAddresses()[0]
	if !strings.HasSuffix(f.addr, ":"+itoa(a.GetPort())) || resp.GetMessageQueues()[1].GetId() != 1 {
		t.Fatalf("route %+v", resp.GetMessageQueues()[1])
	}
	if r, _ := f.cli.QueryRoute(context.Background(), &rmqpb.QueryRouteRequest{Topic: &rmqpb.Resource{Name: "nope"}}); r.GetStatus().GetCode() != rmqpb.Code_TOPIC_NOT_FOUND {
		t.Fatalf("unknown topic: %v", r.GetStatus())
	}
}

// TestFIFOOneAtATime: while a FIFO message is locked, the next message of
// its queue is not delivered; once it is acknowledged, the next comes.
func TestFIFOOneAtATime(t *testing.T) {
	f := start(t, nil)
	for _, b := range []string{"m0", "m1", "m2"} {
		group := "g1"
		resp, err := f.cli.SendMessage(context.Background(), &rmqpb.SendMessageRequest{Messages: []*rmqpb.Message{{
			Topic: &rmqpb.Resource{Name: "t"}, Body: []byte(b), SystemProperties: &rmqpb.SystemProperties{MessageGroup: &group}}}})
		if err != nil || resp.GetStatus().GetCode() != rmqpb.Code_OK {
			t.Fatalf("send: %v %v", resp.GetStatus(), err)
		}
	}
	for _, want := range []string{"m0", "m1", "m2"} {
		msgs, st := f.receive(t, recvReq("g", 1, time.Minute))
		if len(msgs) != 1 || string(msgs[0].GetBody()) != want || msgs[0].GetSystemProperties().GetMessageType() != rmqpb.MessageType_FIFO {
			t.Fatalf("want %s: %v %+v", want, st, msgs)
		}
		if more, st := f.receive(t, recvReq("g", 32, time.Minute)); len(more) != 0 || st.GetCode() != rmqpb.Code_MESSAGE_NOT_FOUND {
			t.Fatalf("while %s is locked: %v, %d messages", want, st, len(more))
		}
		if code := f.ack("g", "t", msgs[0].GetSystemProperties().GetReceiptHandle()); code != rmqpb.Code_OK {
			t.Fatal(code)
		}
	}
}

// TestLongPollWokenBySend: a receive parked on an empty topic returns the
// message sent while it waits. Its poll (20 s) outlasts the call's own
// deadline (10 s), so only the wake-up by the append can answer it.
func TestLongPollWokenBySend(t *testing.T) {
	f := start(t, func(c *Config) { c.MaxLongPolling = 20 * time.Second })
	type result struct {
		msgs []*rmqpb.Message
		st   *rmqpb.Status
	}
	done := make(chan result, 1)
	go func() {
		req := recvReq("g", 4, time.Minute)
		req.LongPollingTimeout = durationpb.New(20 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		stream, err := f.cli.ReceiveMessage(ctx, req)
		if err != nil {
			done <- result{}
			return
		}
		var r result
		for {
			resp, err := stream.Recv()
			if err != nil {
				done <- r
				return
			}
			if m := resp.GetMessage(); m != nil {
				r.msgs = append(r.msgs, m)
			}
			if s := resp.GetStatus(); s != nil {
				r.st = s
			}
		}
	}()
	// The receive has looked at both queues once it knows them.
	for {
		_, ok0 := f.engine.Status(pop.Key{Group: "g", Topic: "t", Queue: 0})
		_, ok1 := f.engine.Status(pop.Key{Group: "g", Topic: "t", Queue: 1})
		if ok0 && ok1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	sent := f.send(t, "wake")
	r := <-done
	if r.st.GetCode() != rmqpb.Code_OK || len(r.msgs) != 1 || r.msgs[0].GetSystemProperties().GetMessageId() != sent.GetMessageId() {
		t.Fatalf("parked receive: %v %+v", r.st, r.msgs)
	}
}

// TestTelemetryForgetsClients: the client table holds a client only while
// its stream is open.
func TestTelemetryForgetsClients(t *testing.T) {
	f := start(t, nil)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-mq-client-id", "c-1")
	stream, err := f.cli.Telemetry(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&rmqpb.TelemetryCommand{Command: &rmqpb.TelemetryCommand_Settings{Settings: &rmqpb.Settings{
		PubSub: &rmqpb.Settings_Publishing{Publishing: &rmqpb.Publishing{}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	known := func() bool { f.srv.mu.Lock(); defer f.srv.mu.Unlock(); return f.srv.clients["c-1"] != nil }
	if !known() {
		t.Fatal("client not recorded")
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end: %v", err)
	}
	// The handler's deferred removal ran before its status reached us.
	if known() {
		t.Fatal("client still recorded after its stream ended")
	}
}
