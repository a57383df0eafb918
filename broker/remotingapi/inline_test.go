package remotingapi

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/offsets"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// goSendFrame is a frame (without its length word) as rocketmq-client-go
// sends one message: SEND_MESSAGE_V2 (310), JSON, short header names.
func goSendFrame(topic string, opaque, flag int32, body []byte) []byte {
	c := &remoting.Command{
		Code: remoting.SendMessageV2, Language: "GO", Version: 317, Opaque: opaque, Flag: flag,
		ExtFields: map[string]string{
			"a": "bench_producer", "b": topic, "c": "TBW102", "d": "4", "e": "0", "f": "0",
			"g": "1795573623939", "h": "0", "j": "0", "k": "false", "l": "0", "m": "false", "n": "broker-a",
			"i": "WAIT\x01true\x02UNIQ_KEY\x017F000001000118B4AAC21F1F55B5" + strconv.Itoa(int(opaque)) + "\x02TAGS\x01TagA\x02",
		},
		Body: body,
	}
	return remoting.AppendCommand(nil, c)[4:]
}

func remoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }

// TestAnswerInline: which frames the event loop answers itself, and that
// what it answers is what OnFrame would (the stored message, the reply).
func TestAnswerInline(t *testing.T) {
	b, st, _ := startBroker(t)
	ctx := context.Background()
	if _, err := b.topics.Create(ctx, topics.Config{Name: "Inline", Queues: 1, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	pullFrame := remoting.AppendCommand(nil, &remoting.Command{Code: remoting.PullMessage, Language: "GO",
		ExtFields: map[string]string{"topic": "Inline"}})[4:]
	response := remoting.AppendCommand(nil, &remoting.Command{Code: remoting.SendMessageV2, Flag: remoting.FlagResponse,
		ExtFields: map[string]string{"b": "Inline"}})[4:]
	tests := []struct {
		name      string
		frame     []byte
		handled   bool
		wantReply bool
	}{
		{"send to an existing topic", goSendFrame("Inline", 1, 0, []byte("one")), true, true},
		{"oneway send", goSendFrame("Inline", 2, remoting.FlagOneway, []byte("two")), true, false},
		{"send to a missing topic (auto-create writes)", goSendFrame("NotYet", 3, 0, []byte("x")), false, false},
		{"send to a retry topic (may create the DLQ)", goSendFrame("%RETRY%g", 4, 0, []byte("x")), false, false},
		{"bad send header is OnFrame's", goSendFrame("", 5, 0, []byte("x")), false, false},
		{"pull", pullFrame, false, false},
		{"response", response, false, false},
		{"garbage", []byte{0, 0, 0, 99}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("before")
			out, handled := b.answerInline(nil, remoteAddr, tt.frame, dst)
			if handled != tt.handled {
				t.Fatalf("handled = %v, want %v", handled, tt.handled)
			}
			if !handled && !bytes.Equal(out, dst) {
				t.Fatalf("declined frame changed dst to %q", out)
			}
			if !bytes.HasPrefix(out, []byte("before")) {
				t.Fatalf("dst prefix lost: %q", out)
			}
			reply := out[len("before"):]
			if (len(reply) > 0) != tt.wantReply {
				t.Fatalf("reply of %d bytes, want one: %v", len(reply), tt.wantReply)
			}
			if !tt.wantReply {
				return
			}
			if n, err := remoting.FrameLen(reply); err != nil || n != len(reply) {
				t.Fatalf("reply is not one whole frame: FrameLen %d, %v of %d", n, err, len(reply))
			}
			resp, err := remoting.Decode(reply[4:])
			if err != nil {
				t.Fatal(err)
			}
			if resp.Code != remoting.Success || !resp.IsResponse() || resp.ExtFields["msgId"] == "" {
				t.Fatalf("reply %+v", resp)
			}
		})
	}
	// Both handled sends are stored, in order, with their bodies.
	for off, want := range []string{"one", "two"} {
		m := waitMessage(t, st, "Inline", int64(off))
		if string(m.Body) != want {
			t.Fatalf("offset %d body %q, want %q", off, m.Body, want)
		}
	}
}

// TestAnswerInlineDoesNotKeepTheFrame: the frame aliases gnet's read
// buffer, so overwriting it after the call must not change what was
// stored.
func TestAnswerInlineDoesNotKeepTheFrame(t *testing.T) {
	b, st, _ := startBroker(t)
	if _, err := b.topics.Create(context.Background(), topics.Config{Name: "Alias", Queues: 1, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	frame := goSendFrame("Alias", 1, 0, []byte("payload"))
	if _, ok := b.answerInline(nil, remoteAddr, frame, nil); !ok {
		t.Fatal("declined")
	}
	clear(frame)
	m := waitMessage(t, st, "Alias", 0)
	if string(m.Body) != "payload" || m.Topic != "Alias" {
		t.Fatalf("stored %q on %q", m.Body, m.Topic)
	}
	if tags, _ := remoting.LookupProperty(m.Properties, "TAGS"); tags != "TagA" {
		t.Fatalf("stored TAGS %q", tags)
	}
}

// BenchmarkSendInline is the broker's work for one 1 KiB send answered on
// the event loop (decode, checks, append to a real store, reply), without
// the network: compare with BenchmarkDecodeSendMessageV2 in wire/remoting
// for the share of header decoding. Delay routing is on, as twinmq serve
// runs it.
func BenchmarkSendInline(b *testing.B) {
	br, _, _ := startBroker(b)
	br.EnableDelay(delay.Policy{})
	if _, err := br.topics.Create(context.Background(), topics.Config{Name: "Bench", Queues: 4, Perm: topics.DefaultPerm}); err != nil {
		b.Fatal(err)
	}
	frame := goSendFrame("Bench", 1, 0, bytes.Repeat([]byte{'x'}, 1024))
	var out []byte
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		if out, ok = br.answerInline(nil, remoteAddr, frame, out[:0]); !ok || len(out) == 0 {
			b.Fatal("declined")
		}
	}
}

// TestParkInlineDeclines: only a long poll at the very end of its queue is
// parked on the event loop; a pull that would read records, or fail, or
// not wait, is pullMessage's. (Parking itself, and the wake-up by a later
// send, is TestSendPullLongPoll's, through the loop.)
func TestParkInlineDeclines(t *testing.T) {
	b, st, _ := startBroker(t)
	if _, err := b.topics.Create(context.Background(), topics.Config{Name: "P", Queues: 1, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.answerInline(nil, remoteAddr, goSendFrame("P", 1, 0, []byte("x")), nil); !ok {
		t.Fatal("send declined")
	}
	waitMessage(t, st, "P", 0)
	pullReq := func(topic, offset, sysFlag, suspend string) *remoting.Command {
		return &remoting.Command{Code: remoting.PullMessage, ExtFields: map[string]string{"consumerGroup": "g", "topic": topic,
			"queueId": "0", "queueOffset": offset, "sysFlag": sysFlag, "suspendTimeoutMillis": suspend}}
	}
	tests := []struct {
		name string
		req  *remoting.Command
	}{
		{"records to read", pullReq("P", "0", "2", "1000")},
		{"past the end", pullReq("P", "5", "2", "1000")},
		{"no suspend flag", pullReq("P", "1", "0", "1000")},
		{"no suspend time", pullReq("P", "1", "2", "0")},
		{"missing topic", pullReq("Q", "0", "2", "1000")},
		{"bad header", &remoting.Command{Code: remoting.PullMessage, ExtFields: map[string]string{"topic": "P"}}},
	}
	for _, tt := range tests {
		if b.parkInline(nil, tt.req) {
			t.Errorf("%s: parked inline", tt.name)
		}
	}
}

// offLoop counts the frames that reach OnFrame, by request code.
type offLoop struct {
	*Broker
	mu    sync.Mutex
	codes map[int32]int
}

func (o *offLoop) OnFrame(c *netio.Conn, frame []byte, done func()) {
	if req, err := remoting.Decode(frame); err == nil {
		o.mu.Lock()
		o.codes[req.Code]++
		o.mu.Unlock()
	}
	o.Broker.OnFrame(c, frame, done)
}

func (o *offLoop) count(code int32) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.codes[code]
}

// TestInlineThroughTheLoop: over a real connection, a send to an existing
// topic and a long poll at the end of the queue never reach OnFrame; the
// parked poll is answered by its timer. (Its wake-up by a later send is
// TestSendPullLongPoll's.)
func TestInlineThroughTheLoop(t *testing.T) {
	o := &offLoop{codes: map[int32]int{}}
	b, st, addr := startBrokerAs(t, func(b *Broker) netio.Handler { o.Broker = b; return o })
	if _, err := b.topics.Create(context.Background(), topics.Config{Name: "L", Queues: 1, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := sendOne(t, c, "L", "A", "first"); r.Code != remoting.Success {
		t.Fatalf("send: %d %s", r.Code, r.Remark)
	}
	waitMessage(t, st, "L", 0) // dispatched: the queue's end is 1
	if r := pull(t, c, "L", 1, "*"); r.Code != remoting.PullNotFound {
		t.Fatalf("parked pull: %d %s, want PULL_NOT_FOUND at its timeout", r.Code, r.Remark)
	}
	if n := o.count(remoting.PullMessage); n != 0 {
		t.Errorf("%d pulls went off the loop, want 0", n)
	}
	if n := o.count(remoting.SendMessageV2); n != 0 {
		t.Errorf("%d sends went off the loop, want 0", n)
	}
}

// TestAnswerInlineSyncFlush: in SYNC_FLUSH a send waits for an fsync, so
// it never runs on the event loop.
func TestAnswerInlineSyncFlush(t *testing.T) {
	ctx := context.Background()
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 4 << 20, FlushDiskType: storage.SyncFlush})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	reg, err := topics.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	offs, err := offsets.Open(ctx, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer offs.Close()
	b, err := New(Config{AdvertisedAddr: "127.0.0.1:10911"}, store, reg, offs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, topics.Config{Name: "S", Queues: 1, Perm: topics.DefaultPerm}); err != nil {
		t.Fatal(err)
	}
	if out, ok := b.answerInline(nil, remoteAddr, goSendFrame("S", 1, 0, []byte("x")), nil); ok || len(out) != 0 {
		t.Fatalf("SYNC_FLUSH send answered inline (%d bytes)", len(out))
	}
}
