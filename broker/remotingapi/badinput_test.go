package remotingapi

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// rawConn is a client that writes arbitrary bytes and reads frames.
type rawConn struct {
	t *testing.T
	net.Conn
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t, c}
}

// frame builds a frame with a raw serialize-type byte and header bytes.
func frame(serType byte, header, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(serType)<<24|uint32(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

// send writes b (tolerating a peer that closes while we write).
func (c *rawConn) send(b []byte) {
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write(b)
}

// read returns the next frame as a command, or nil with the error when
// the broker closed the connection.
func (c *rawConn) read() (*remoting.Command, error) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var n [4]byte
	if _, err := io.ReadFull(c, n[:]); err != nil {
		return nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	return remoting.Decode(buf)
}

// call sends one JSON request and reads its response.
func (c *rawConn) call(code int32, ext map[string]string, body []byte) *remoting.Command {
	c.t.Helper()
	req := remoting.NewRequest(code, 7)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	req.Body = body
	c.send(remoting.AppendCommand(nil, req))
	resp, err := c.read()
	if err != nil {
		c.t.Fatalf("code %d: no response: %v", code, err)
	}
	if !resp.IsResponse() || resp.Opaque != 7 {
		c.t.Fatalf("code %d: response flag %d opaque %d", code, resp.Flag, resp.Opaque)
	}
	return resp
}

// closedByPeer reports whether the broker closed the connection.
func (c *rawConn) closedByPeer() bool {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

func sendExt(topic string) map[string]string {
	return map[string]string{"producerGroup": "pg", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0", "properties": "TAGS\x01A\x02"}
}

// TestBadFramesCloseTheConnection: what Java's NettyDecoder cannot decode
// (a malformed JSON or ROCKETMQ header, an unknown serialize type, a
// header longer than the frame, a length word over 16 MiB or under 4)
// closes the connection, and nothing is stored.
func TestBadFramesCloseTheConnection(t *testing.T) {
	_, store, addr := startBroker(t)
	before := store.Queues("")
	oversize := binary.BigEndian.AppendUint32(nil, remoting.MaxFrameSize) // 16 MiB + 4 with the length word
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"malformed JSON header", frame(0, []byte(`{"code":10,"extFields":{"topic":`), nil)},
		{"JSON header of the wrong shape", frame(0, []byte(`[1,2,3]`), nil)},
		{"unknown serialize type", frame(5, []byte(`{"code":10}`), nil)},
		{"truncated ROCKETMQ header", frame(1, []byte{0, 10, 0, 1}, nil)},
		{"ROCKETMQ ext map longer than the header", frame(1, append(make([]byte, 17), 0, 0, 0x7f, 0xff), nil)},
		{"header length past the frame", append(binary.BigEndian.AppendUint32(nil, 8), 0, 0, 0x10, 0, 'x', 'x', 'x', 'x')},
		{"frame over 16 MiB", oversize},
		{"frame length under 4", append(binary.BigEndian.AppendUint32(nil, 2), 0, 0)},
		{"negative frame length", binary.BigEndian.AppendUint32(nil, 0x80000000)},
	}
	for _, tc := range cases {
		c := dialRaw(t, addr)
		c.send(tc.bytes)
		if !c.closedByPeer() {
			t.Errorf("%s: connection still open", tc.name)
		}
	}
	// The broker still serves new connections.
	if r := dialRaw(t, addr).call(9999, nil, nil); r.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("after bad frames: code %d", r.Code)
	}
	if after := store.Queues(""); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad frames changed the store: %v -> %v", before, after)
	}
}

// TestBadRequestsKeepTheConnection: requests that decode but are wrong
// get their response code on a connection that stays usable, and store
// nothing (docs/rocketmq-protocol.md §2.0, §2.4; CVE-2019-17572: topic names are never paths).
func TestBadRequestsKeepTheConnection(t *testing.T) {
	b, store, addr := startBroker(t)
	c := dialRaw(t, addr)
	if r := c.call(remoting.SendMessage, sendExt("Good"), []byte("x")); r.Code != remoting.Success {
		t.Fatalf("good send: %d %s", r.Code, r.Remark)
	}
	waitQueues := func() []storage.QueueInfo {
		time.Sleep(50 * time.Millisecond) // dispatch is asynchronous
		return store.Queues("")
	}
	before := waitQueues()
	withProps := func(p string) map[string]string { m := sendExt("Good"); m["properties"] = p; return m }
	big := bytes.Repeat([]byte("x"), DefaultMaxMessageSize+1)
	cases := []struct {
		name string
		code int32
		ext  map[string]string
		body []byte
		want int32
	}{
		{"unknown request code", 4242, nil, nil, remoting.RequestCodeNotSupported},
		{"code past int16", remoting.PopMessage, nil, nil, remoting.RequestCodeNotSupported},
		// CVE-2023-33246: no request rewrites broker configuration.
		{"UPDATE_BROKER_CONFIG", 25, map[string]string{}, []byte("rocketmqHome=-c $@|sh . echo pwned\nfilterServerNums=1"), remoting.NoPermission},
		{"message over 4 MiB", remoting.SendMessage, sendExt("Good"), big, remoting.MessageIllegal},
		{"batch over 4 MiB", remoting.SendBatchMessage, map[string]string{"b": "Good", "c": "TBW102", "m": "true"},
			remoting.AppendBatchMessage(nil, 0, big, nil), remoting.MessageIllegal},
		{"properties over 32 KiB", remoting.SendMessage, withProps("K\x01" + strings.Repeat("v", 40000) + "\x02"), []byte("x"), remoting.MessageIllegal},
		{"topic ../x", remoting.SendMessage, sendExt("../x"), []byte("x"), remoting.InvalidParameter},
		{"topic a/b", remoting.SendMessage, sendExt("a/b"), []byte("x"), remoting.InvalidParameter},
		{"topic ..", remoting.SendMessage, sendExt(".."), []byte("x"), remoting.InvalidParameter},
		{"topic with NUL", remoting.SendMessage, sendExt("a\x00b"), []byte("x"), remoting.InvalidParameter},
		{"topic of 128 bytes", remoting.SendMessage, sendExt(strings.Repeat("t", 128)), []byte("x"), remoting.InvalidParameter},
		{"create topic ../../etc", remoting.UpdateAndCreateTopic, map[string]string{"topic": "../../etc", "readQueueNums": "1", "writeQueueNums": "1"}, nil, remoting.InvalidParameter},
		{"create topic a/b", remoting.UpdateAndCreateTopic, map[string]string{"topic": "a/b"}, nil, remoting.InvalidParameter},
		{"delete topic ../x", remoting.DeleteTopicInBroker, map[string]string{"topic": "../x"}, nil, remoting.TopicNotExist},
		{"pull topic ../x", remoting.PullMessage, map[string]string{"consumerGroup": "g", "topic": "../x", "queueId": "0", "queueOffset": "0"}, nil, remoting.TopicNotExist},
		{"queue id out of range", remoting.SendMessage, map[string]string{"topic": "Good", "queueId": "99"}, []byte("x"), remoting.InvalidParameter},
		{"non-numeric offset", remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "Good", "queueId": "0", "commitOffset": "ten"}, nil, remoting.InvalidParameter},
		{"batch with a bad length", remoting.SendBatchMessage, map[string]string{"b": "Good", "c": "TBW102"}, []byte{0, 0, 0, 200, 0}, remoting.MessageIllegal},
		{"lock body not JSON", remoting.LockBatchMQ, nil, []byte("{"), remoting.InvalidParameter},
		{"body flagged zlib, not zlib", remoting.SendMessage, withExt(sendExt("Good"), "sysFlag", "1"), []byte("not zlib"), remoting.MessageIllegal},
		{"body flagged zstd, not zstd", remoting.SendMessage, withExt(sendExt("Good"), "sysFlag", "513"), []byte("\x78\x9cxx"), remoting.MessageIllegal},
		{"batch=true on SEND_MESSAGE, garbage body", remoting.SendMessage, withExt(sendExt("Good"), "batch", "true"), []byte{0, 0, 0, 200, 0}, remoting.MessageIllegal},
	}
	for _, tc := range cases {
		r := c.call(tc.code, tc.ext, tc.body)
		if r.Code != tc.want {
			t.Errorf("%s: code %d (%s), want %d", tc.name, r.Code, r.Remark, tc.want)
		}
	}
	if _, ok := b.topics.Get("../x"); ok {
		t.Fatal("topic ../x exists")
	}
	if after := waitQueues(); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad requests changed the store: %v -> %v", before, after)
	}
	// The same connection still works.
	if r := c.call(remoting.SendMessage, sendExt("Good"), []byte("y")); r.Code != remoting.Success || r.ExtFields["queueOffset"] != "1" {
		t.Fatalf("send after bad requests: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	// A oneway request (RPC_ONEWAY) that fails gets no reply either.
	req := remoting.NewRequest(4242, 8)
	req.Flag = remoting.FlagOneway
	c.send(remoting.AppendCommand(nil, req))
	// The connection answers the next request; the max offset reaches 2
	// once the dispatch (asynchronous, as Java's reput) has the send.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		r := c.call(remoting.GetMaxOffset, map[string]string{"topic": "Good", "queueId": "0"}, nil)
		if r.Code != remoting.Success {
			t.Fatalf("max offset after oneway: %d %v", r.Code, r.ExtFields)
		}
		if r.ExtFields["offset"] == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("max offset after oneway: %v, want 2", r.ExtFields)
		}
	}
}

// TestPropertiesWithoutSeparators: a properties string without 0x01/0x02
// is stored as sent (Java skips such items when parsing), and the UNIQ_KEY
// the broker adds stays a well-formed item of its own.
func TestPropertiesWithoutSeparators(t *testing.T) {
	_, _, addr := startBroker(t)
	c := dialRaw(t, addr)
	for i, props := range []string{"garbage", "TAGS\x01A", "\x01\x02\x01", "KEYS\x01k1\x02broken"} {
		ext := sendExt("Props")
		ext["properties"] = props
		r := c.call(remoting.SendMessage, ext, []byte("x"))
		if r.Code != remoting.Success {
			t.Fatalf("%q: code %d %s", props, r.Code, r.Remark)
		}
		uniq := r.ExtFields["transactionId"]
		var p *remoting.Command
		deadline := time.Now().Add(5 * time.Second)
		for {
			p = c.call(remoting.PullMessage, map[string]string{"consumerGroup": "g", "topic": "Props", "queueId": "0",
				"queueOffset": r.ExtFields["queueOffset"], "maxMsgNums": "1", "sysFlag": "0"}, nil)
			if p.Code == remoting.Success || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		m, _, err := remoting.DecodeStoredMessage(p.Body)
		if err != nil {
			t.Fatalf("%q: pull %d: %v", props, p.Code, err)
		}
		got := remoting.ParseProperties(m.Properties)
		if got["UNIQ_KEY"] != uniq || len(uniq) != 32 {
			t.Errorf("%d %q: stored properties %q parse to %v, UNIQ_KEY %q", i, props, m.Properties, got, uniq)
		}
	}
}

func withExt(m map[string]string, k, v string) map[string]string {
	m[k] = v
	return m
}

// TestSendBodyChecks: a compressed body whose stream starts as its flag
// says is stored; a SEND_MESSAGE with batch=true is served as
// SEND_BATCH_MESSAGE (Java's SendMessageProcessor), each message of the
// batch its own, not the batch encoding stored as one message.
func TestSendBodyChecks(t *testing.T) {
	_, store, addr := startBroker(t)
	c := dialRaw(t, addr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(bytes.Repeat([]byte("compressible "), 100))
	zw.Close()
	if r := c.call(remoting.SendMessage, withExt(sendExt("Z"), "sysFlag", "1"), z.Bytes()); r.Code != remoting.Success {
		t.Fatalf("zlib body: %d %s", r.Code, r.Remark)
	}
	batch := remoting.AppendBatchMessage(nil, 0, []byte("one"), nil)
	batch = remoting.AppendBatchMessage(batch, 0, []byte("two"), nil)
	ext := withExt(sendExt("B"), "batch", "true")
	ext["queueId"] = "0"
	if r := c.call(remoting.SendMessage, ext, batch); r.Code != remoting.Success {
		t.Fatalf("batch=true: %d %s", r.Code, r.Remark)
	}
	for i, want := range []string{"one", "two"} {
		if m := waitMessage(t, store, "B", int64(i)); string(m.Body) != want {
			t.Fatalf("batch message %d: %q, want %q", i, m.Body, want)
		}
	}
}

// TestPullFilterTypes: a pull with an SQL92 subscription is accepted (and
// filtered, pull_sql.go); a filter type RocketMQ does not know gets
// SYSTEM_ERROR with its remark.
func TestPullFilterTypes(t *testing.T) {
	for _, typ := range []string{"", "TAG", "SQL92"} {
		if _, err := parsePullRequest(map[string]string{"consumerGroup": "g", "topic": "t", "queueId": "0", "queueOffset": "0",
			"expressionType": typ, "subscription": "*"}); err != nil {
			t.Errorf("%q pull: %v", typ, err)
		}
	}
	_, err := parsePullRequest(map[string]string{"consumerGroup": "g", "topic": "t", "queueId": "0", "queueOffset": "0",
		"expressionType": "CLASS", "subscription": "x"})
	if err == nil || codeFor(err) != remoting.SystemError || err.Error() != "The broker does not support consumer to filter message by CLASS" {
		t.Fatalf("CLASS pull: %v (code %d)", err, codeFor(err))
	}
}
