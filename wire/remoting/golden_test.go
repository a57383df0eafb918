package remoting

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.bin and *.txt from the sources in golden_test.go")

// goldenFrame is a fixture from the spec: the header text exactly as the
// client sent it (Appendix A, §1.3, §2.x), framed as the client frames it
// (JSON, length word, header-length word). Where the spec elides a value
// with "…", the source says what was filled in.
type goldenFrame struct {
	name   string
	source string
	header string // JSON header; empty for a synthesized ROCKETMQ frame
	cmd    *Command
	body   []byte

	code, opaque, flag int32
	remark             string
	ext                map[string]string
}

const heartbeatBody = `{"clientID":"192.0.2.2@30692","producerDataSet":[],"consumerDataSet":[{"groupName":"smoke_group","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"%RETRY%smoke_group","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1795573623939213766,"expressionType":"TAG"},{"classFilterMode":false,"topic":"SmokeTopic","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1795573623939205043,"expressionType":"TAG"}],"unitMode":false}]}`

const routeBody = `{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`

// batchBody is the captured §3.2 batch: three messages "batch-0".."batch-2",
// tag TagA (the spec prints the first entry and elides the rest, which
// differ only in the body's last byte).
func batchBody() []byte {
	var b []byte
	for i := range 3 {
		b = AppendBatchMessage(b, 0, fmt.Appendf(nil, "batch-%d", i), []byte("TAGS\x01TagA\x02"))
	}
	return b
}

func goldenFrames() []goldenFrame {
	return []goldenFrame{
		{
			name: "go_105_get_routeinfo", source: "docs/rocketmq-protocol.md §1.3, Go client",
			header: `{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"SmokeTopic"}}`,
			code:   105, opaque: 1, ext: map[string]string{"topic": "SmokeTopic"},
		},
		{
			name: "ons_310_send_v2", source: "docs/rocketmq-protocol.md §1.3, ali-ons (numbers and booleans in extFields); body synthesized",
			header: `{"code":310,"language":"JAVA","opaque":2,"flag":0,"version":121,"extFields":{"a":"ons_pg","b":"OnsTopic","c":"TBW102","d":4,"e":0,"f":0,"g":1795574007314,"h":0,"i":"TAGS\u0001TagA\u0002","j":0,"k":false}}`,
			body:   []byte("hello ons"),
			code:   310, opaque: 2, ext: map[string]string{
				"a": "ons_pg", "b": "OnsTopic", "c": "TBW102", "d": "4", "e": "0", "f": "0",
				"g": "1795574007314", "h": "0", "i": "TAGS\x01TagA\x02", "j": "0", "k": "false",
			},
		},
		{
			name: "java_0_send_response", source: "docs/rocketmq-protocol.md §1.3, Java server response shape; msgId filled with the captured §4.1 id",
			header: `{"code":0,"extFields":{"msgId":"7F00000100002A9F00000000000000BE","queueId":"1","queueOffset":"0"},"flag":1,"language":"JAVA","opaque":2,"serializeTypeCurrentRPC":"JSON","version":479}`,
			code:   0, opaque: 2, flag: 1,
			ext: map[string]string{"msgId": "7F00000100002A9F00000000000000BE", "queueId": "1", "queueOffset": "0"},
		},
		{
			name: "go_320_send_batch", source: "docs/rocketmq-protocol.md §2.4 captured extFields (g filled), envelope as other Go frames, body docs/rocketmq-protocol.md §3.2",
			header: `{"code":320,"language":"GO","version":317,"opaque":6,"flag":0,"remark":"","extFields":{"a":"smoke_group_producer","b":"SmokeTopic","c":"TBW102","d":"4","e":"1","f":"0","g":"1795573623939","h":"0","i":"","j":"0","k":"false","l":"0","m":"true","n":"broker-a"}}`,
			body:   batchBody(),
			code:   320, opaque: 6, ext: map[string]string{
				"a": "smoke_group_producer", "b": "SmokeTopic", "c": "TBW102", "d": "4", "e": "1", "f": "0",
				"g": "1795573623939", "h": "0", "i": "", "j": "0", "k": "false", "l": "0", "m": "true", "n": "broker-a",
			},
		},
		{
			name: "go_11_pull", source: "docs/rocketmq-protocol.md §2.5 captured extFields, envelope as other Go frames",
			header: `{"code":11,"language":"GO","version":317,"opaque":7,"flag":0,"remark":"","extFields":{"consumerGroup":"smoke_group","topic":"%RETRY%smoke_group","queueId":"0","queueOffset":"0","maxMsgNums":"32","sysFlag":"2","commitOffset":"0","suspendTimeoutMillis":"20000","subscription":"","subVersion":"0","expressionType":"TAG","bname":"broker-a"}}`,
			code:   11, opaque: 7, ext: map[string]string{
				"consumerGroup": "smoke_group", "topic": "%RETRY%smoke_group", "queueId": "0", "queueOffset": "0",
				"maxMsgNums": "32", "sysFlag": "2", "commitOffset": "0", "suspendTimeoutMillis": "20000",
				"subscription": "", "subVersion": "0", "expressionType": "TAG", "bname": "broker-a",
			},
		},
		{
			name: "go_14_query_offset", source: "spec Appendix A, GO 14",
			header: `{"code":14,"language":"GO","version":317,"opaque":5,"flag":0,"remark":"","extFields":{"bname":"broker-a","consumerGroup":"smoke_group","topic":"%RETRY%smoke_group","queueId":"0"}}`,
			code:   14, opaque: 5, ext: map[string]string{"bname": "broker-a", "consumerGroup": "smoke_group", "topic": "%RETRY%smoke_group", "queueId": "0"},
		},
		{
			name: "go_15_update_offset", source: "spec Appendix A, GO 15",
			header: `{"code":15,"language":"GO","version":317,"opaque":24,"flag":0,"remark":"","extFields":{"consumerGroup":"smoke_group","topic":"SmokeTopic","queueId":"2","commitOffset":"3","bname":"broker-a"}}`,
			code:   15, opaque: 24, ext: map[string]string{"consumerGroup": "smoke_group", "topic": "SmokeTopic", "queueId": "2", "commitOffset": "3", "bname": "broker-a"},
		},
		{
			name: "go_34_heartbeat", source: "spec Appendix A, GO 34, body docs/rocketmq-protocol.md §2.6",
			header: `{"code":34,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"","extFields":{}}`,
			body:   []byte(heartbeatBody),
			code:   34, opaque: 3, ext: map[string]string{},
		},
		{
			name: "go_36_send_back", source: "docs/rocketmq-protocol.md §2.8 captured extFields (originMsgId filled), envelope as other Go frames",
			header: `{"code":36,"language":"GO","version":317,"opaque":9,"flag":0,"remark":"","extFields":{"offset":"2332","group":"retry_group","delayLevel":"1","originMsgId":"C0000202778300000000000000000002","originTopic":"RetryTopic","unitMode":"false","maxReconsumeTimes":"2","bname":"broker-a"}}`,
			code:   36, opaque: 9, ext: map[string]string{
				"offset": "2332", "group": "retry_group", "delayLevel": "1", "originMsgId": "C0000202778300000000000000000002",
				"originTopic": "RetryTopic", "unitMode": "false", "maxReconsumeTimes": "2", "bname": "broker-a",
			},
		},
		{
			name: "go_38_consumer_list", source: "spec Appendix A, GO 38",
			header: `{"code":38,"language":"GO","version":317,"opaque":4,"flag":0,"remark":"","extFields":{"consumerGroup":"smoke_group"}}`,
			code:   38, opaque: 4, ext: map[string]string{"consumerGroup": "smoke_group"},
		},
		{
			name: "go_41_lock_batch", source: "spec Appendix A, GO 41 (elided envelope filled as other Go frames)",
			header: `{"code":41,"language":"GO","version":317,"opaque":8,"flag":0,"remark":"","extFields":{}}`,
			body:   []byte(`{"consumerGroup":"ord_group","clientId":"192.0.2.2@31033","mqSet":[{"topic":"%RETRY%ord_group","brokerName":"broker-a","queueId":0}]}`),
			code:   41, opaque: 8, ext: map[string]string{},
		},
		{
			name: "ons_11_pull", source: "spec Appendix A, ONS 11",
			header: `{"code":11,"language":"JAVA","opaque":17,"flag":0,"version":121,"extFields":{"consumerGroup":"ons_cg","topic":"OnsTopic","queueId":0,"queueOffset":0,"maxMsgNums":32,"sysFlag":6,"commitOffset":0,"suspendTimeoutMillis":15000,"subscription":"*","subVersion":1795574007318}}`,
			code:   11, opaque: 17, ext: map[string]string{
				"consumerGroup": "ons_cg", "topic": "OnsTopic", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
				"sysFlag": "6", "commitOffset": "0", "suspendTimeoutMillis": "15000", "subscription": "*", "subVersion": "1795574007318",
			},
		},
		{
			name: "ons_14_query_offset", source: "spec Appendix A, ONS 14",
			header: `{"code":14,"language":"JAVA","opaque":14,"flag":0,"version":121,"extFields":{"topic":"OnsTopic","consumerGroup":"ons_cg","queueId":0}}`,
			code:   14, opaque: 14, ext: map[string]string{"topic": "OnsTopic", "consumerGroup": "ons_cg", "queueId": "0"},
		},
		{
			name: "ons_15_update_offset", source: "spec Appendix A, ONS 15",
			header: `{"code":15,"language":"JAVA","opaque":33,"flag":0,"version":121,"extFields":{"topic":"OnsTopic","consumerGroup":"ons_cg","queueId":0,"commitOffset":1}}`,
			code:   15, opaque: 33, ext: map[string]string{"topic": "OnsTopic", "consumerGroup": "ons_cg", "queueId": "0", "commitOffset": "1"},
		},
		{
			name: "ons_35_unregister", source: "spec Appendix A, ONS 35",
			header: `{"code":35,"language":"JAVA","opaque":38,"flag":0,"version":121,"extFields":{"clientID":"192.0.2.2@6238","consumerGroup":"ons_cg"}}`,
			code:   35, opaque: 38, ext: map[string]string{"clientID": "192.0.2.2@6238", "consumerGroup": "ons_cg"},
		},
		{
			name: "java_19_pull_not_found", source: "spec Appendix A, RESP 19",
			header: `{"code":19,"language":"JAVA","version":475,"opaque":20,"flag":1,"remark":"OFFSET_OVERFLOW_ONE","extFields":{"maxOffset":"3","minOffset":"0","nextBeginOffset":"3","suggestWhichBrokerId":"0"}}`,
			code:   19, opaque: 20, flag: 1, remark: "OFFSET_OVERFLOW_ONE",
			ext: map[string]string{"maxOffset": "3", "minOffset": "0", "nextBeginOffset": "3", "suggestWhichBrokerId": "0"},
		},
		{
			name: "java_0_route_response", source: "docs/rocketmq-protocol.md §2.2 captured route body; header as a Java namesrv writes it",
			header: `{"code":0,"flag":1,"language":"JAVA","opaque":1,"serializeTypeCurrentRPC":"JSON","version":479}`,
			body:   []byte(routeBody),
			code:   0, opaque: 1, flag: 1, ext: map[string]string{},
		},
		{
			name: "rmq_15_update_offset", source: "synthesized: GO 15 of Appendix A in a ROCKETMQ header (docs/rocketmq-protocol.md §1.4)",
			cmd: &Command{
				Code: 15, Language: "JAVA", Version: 401, Opaque: 24, SerializeType: SerializeRocketMQ,
				ExtFields: map[string]string{"consumerGroup": "smoke_group", "topic": "SmokeTopic", "queueId": "2", "commitOffset": "3"},
			},
			code: 15, opaque: 24, ext: map[string]string{"consumerGroup": "smoke_group", "topic": "SmokeTopic", "queueId": "2", "commitOffset": "3"},
		},
	}
}

// frameOf builds the bytes a client puts on the wire for g.
func (g *goldenFrame) frameOf() []byte {
	if g.cmd != nil {
		c := *g.cmd
		c.Body = g.body
		return AppendCommand(nil, &c)
	}
	var f []byte
	f = appendU32(f, uint32(4+len(g.header)+len(g.body)))
	f = appendU32(f, uint32(len(g.header)))
	f = append(f, g.header...)
	return append(f, g.body...)
}

// dumpFrame renders a frame as the readable .txt beside its .bin.
func dumpFrame(source string, frame []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# source: %s\n", source)
	n, err := FrameLen(frame)
	if err != nil {
		fmt.Fprintf(&b, "FrameLen error: %v\n", err)
		return b.String()
	}
	c, err := Decode(frame[4:n])
	if err != nil {
		fmt.Fprintf(&b, "Decode error: %v\n", err)
		return b.String()
	}
	word := frame[4:8]
	hdrLen := int(word[1])<<16 | int(word[2])<<8 | int(word[3])
	names := map[uint8]string{SerializeJSON: "JSON", SerializeRocketMQ: "ROCKETMQ"}
	fmt.Fprintf(&b, "frame %d bytes, serializeType %s, header %d bytes, body %d bytes\n", n, names[c.SerializeType], hdrLen, len(c.Body))
	name := RequestName(c.Code)
	if c.IsResponse() {
		name = ResponseName(c.Code)
	}
	fmt.Fprintf(&b, "code %d (%s) language %s version %d opaque %d flag %d remark %q\n", c.Code, name, c.Language, c.Version, c.Opaque, c.Flag, c.Remark)
	b.WriteString("extFields:\n")
	for _, k := range slices.Sorted(maps.Keys(c.ExtFields)) {
		fmt.Fprintf(&b, "  %s = %q\n", k, c.ExtFields[k])
	}
	if c.SerializeType == SerializeJSON {
		fmt.Fprintf(&b, "header:\n  %s\n", frame[8:8+hdrLen])
	}
	b.WriteString("frame hex:\n")
	b.WriteString(hex.Dump(frame))
	return b.String()
}

func writeOrCompare(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the test builds (run with -update after checking why)", path)
	}
}

func TestGoldenFrames(t *testing.T) {
	for _, g := range goldenFrames() {
		t.Run(g.name, func(t *testing.T) {
			bin := filepath.Join("testdata", g.name+".bin")
			writeOrCompare(t, bin, g.frameOf())
			frame, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			writeOrCompare(t, filepath.Join("testdata", g.name+".txt"), []byte(dumpFrame(g.source, frame)))

			n, err := FrameLen(frame)
			if err != nil || n != len(frame) {
				t.Fatalf("FrameLen = %d, %v; want %d", n, err, len(frame))
			}
			c, err := Decode(frame[4:])
			if err != nil {
				t.Fatal(err)
			}
			if c.Code != g.code || c.Opaque != g.opaque || c.Flag != g.flag || c.Remark != g.remark {
				t.Errorf("code/opaque/flag/remark = %d/%d/%d/%q, want %d/%d/%d/%q",
					c.Code, c.Opaque, c.Flag, c.Remark, g.code, g.opaque, g.flag, g.remark)
			}
			if !maps.Equal(c.ExtFields, g.ext) {
				t.Errorf("extFields = %q\nwant %q", c.ExtFields, g.ext)
			}
			if !bytes.Equal(c.Body, g.body) {
				t.Errorf("body = %q, want %q", c.Body, g.body)
			}
			// Re-encoding in the peer's serialization decodes to the same command.
			again, err := Decode(AppendCommand(nil, c)[4:])
			if err != nil {
				t.Fatal(err)
			}
			assertSameCommand(t, again, c)
		})
	}
}

// storedExampleHex is the §3.3 example record (146 bytes); the spec elides
// the UNIQ_KEY value, filled here with the §4.2 example id.
const storedExampleHex = "00000092daa320a758932aac00000001000000000000000000000005000000000000100000000000" +
	"0000018bcfe568000a0000070000d0a40000018bcfe5687b0a00000100002a9f00000000" +
	"000000000000000000000002686901540034544147530154616741025" + "54e49515f4b455901" +
	"4330303030323032373738333030303030303030376331663264353030303031" + "02"

func TestGoldenStoredMessage(t *testing.T) {
	rec, err := hex.DecodeString(storedExampleHex)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join("testdata", "stored_example.bin")
	writeOrCompare(t, bin, rec)
	rec, err = os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	m, n, err := DecodeStoredMessage(rec)
	if err != nil {
		t.Fatal(err)
	}
	var dump strings.Builder
	fmt.Fprintf(&dump, "# source: docs/rocketmq-protocol.md §3.3 example record (UNIQ_KEY filled with the §4.2 example)\n%+v\nproperties %q\nrecord hex:\n%s",
		m, m.Properties, hex.Dump(rec))
	writeOrCompare(t, filepath.Join("testdata", "stored_example.txt"), []byte(dump.String()))

	if n != 146 || len(rec) != 146 {
		t.Fatalf("consumed %d of %d, want 146", n, len(rec))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"BodyCRC", m.BodyCRC, uint32(0x58932aac)},
		{"BodyCRC(body)", BodyCRC(m.Body), uint32(0x58932aac)},
		{"QueueID", m.QueueID, int32(1)},
		{"QueueOffset", m.QueueOffset, int64(5)},
		{"CommitLogOffset", m.CommitLogOffset, int64(4096)},
		{"BornHost", m.BornHost.String(), "10.0.0.7:53412"},
		{"StoreHost", m.StoreHost.String(), "10.0.0.1:10911"},
		{"Body", string(m.Body), "hi"},
		{"Topic", m.Topic, "T"},
		{"TAGS", ParseProperties(m.Properties)["TAGS"], "TagA"},
		{"UNIQ_KEY", ParseProperties(m.Properties)["UNIQ_KEY"], "C00002027783000000007c1f2d500001"},
		{"re-encoded", hex.EncodeToString(AppendStoredMessage(nil, &m)), hex.EncodeToString(rec)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestGoldenBatch(t *testing.T) {
	// The first entry exactly as the spec prints it.
	first, _ := hex.DecodeString("00000027000000000000000000000000000000076261746368" + "2d30000a54414753015461674102")
	if got := batchBody()[:len(first)]; !bytes.Equal(got, first) {
		t.Fatalf("batch entry = %x, want %x", got, first)
	}
	frame, err := os.ReadFile(filepath.Join("testdata", "go_320_send_batch.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(frame[4:])
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := DecodeBatch(c.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("batch-%d", i); string(m.Body) != want || m.Properties["TAGS"] != "TagA" || len(m.Properties) != 1 {
			t.Errorf("message %d = %q %q, want %q TAGS=TagA", i, m.Body, m.Properties, want)
		}
	}
}
