package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// nodeEvent is one JSON line of node/xproto.js.
type nodeEvent struct {
	Sent      *int              `json:"sent"`
	Value     string            `json:"value"`
	Key       string            `json:"key"`
	Tags      string            `json:"tags"`
	Props     map[string]string `json:"props"`
	TS        int64             `json:"ts"`
	StoreTS   int64             `json:"storeTs"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	MsgID     string            `json:"msgId"`
}

// runNode runs one role of node/xproto.js to its end and returns what it
// sent (indexes) and what it received (as xmsg).
func runNode(t *testing.T, role string, env ...string) (sent []int, got []xmsg) {
	t.Helper()
	nodeBin, dir := nodeClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "xproto.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"ROLE=" + role, "COUNT=" + strconv.Itoa(xMatrixN), "TIMEOUT_MS=60000"}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node xproto.js %s: %v\nstdout:\n%s\nstderr:\n%s", role, err, out, stderr.Bytes())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e nodeEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %q: %v", role, sc.Text(), err)
		}
		if e.Sent != nil {
			sent = append(sent, *e.Sent)
			continue
		}
		got = append(got, xmsg{value: e.Value, key: e.Key, tags: e.Tags, props: e.Props, ts: e.TS, storeTS: e.StoreTS,
			partition: e.Partition, offset: e.Offset, msgID: e.MsgID})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sent, got
}

// TestXProtoNode adds the Node.js clients to the matrix of
// TestXProtoMatrix, with the same messages and checks (docs/design.md section
// 4): kafkajs and ali-ons as producers read by franz-go and RocketMQ
// consumers, and as consumers of franz-go and RocketMQ producers.
//
// kafkajs decodes only gzip (and uncompressed) batches; it throws on
// snappy, lz4 and zstd unless a codec is plugged in. So it reads franz-go
// producing gzip here, and the matrix rows whose Kafka producers use the
// other codecs are not paired with it (logged below). RocketMQ-produced
// messages reach it as uncompressed batches, their zlib bodies inflated.
func TestXProtoNode(t *testing.T) {
	nodeClients(t)
	b := startXBroker(t)
	nsEnv, kEnv := "NAMESRV="+b.rmq.nsAddr, "BROKERS="+b.kafkaAddr
	t.Log("kafkajs reads only gzip: the sarama (lz4), kafka-go (zstd) and franz-go (snappy) rows of TestXProtoMatrix " +
		"are not paired with the kafkajs consumer; franz-go produces gzip for it here")

	t.Run("kafkajs", func(t *testing.T) {
		topic := "xp-kafkajs-" + kafkaTopicName(t, "n")
		b.createXTopic(t, topic, 2)
		base := xBaseTS()
		sent, _ := runNode(t, "kafkajs-produce", kEnv, "TOPIC="+topic, "PRODUCER=kafkajs", "BASE_TS="+strconv.FormatInt(base, 10))
		if len(sent) != xMatrixN {
			t.Fatalf("kafkajs sent %d of %d", len(sent), xMatrixN)
		}
		for _, c := range []xConsumer{{"franz-go-group", true, false, xReadKgo}, {"rocketmq-push-TagA", false, true, xReadPush}} {
			t.Run(c.name, func(t *testing.T) {
				want := xMatrixN
				if c.onlyTagA {
					want = (xMatrixN + 1) / 2
				}
				got := c.read(t, b, topic, uniqueGroup(t, "xg_"+c.name), want)
				checkXMessages(t, "kafkajs", kafkaSent(base), got, c.onlyTagA, c.kafkaSide)
			})
		}
	})

	t.Run("ali-ons", func(t *testing.T) {
		topic := "xp-alions-" + kafkaTopicName(t, "n")
		b.createXTopic(t, topic, 2)
		start := time.Now().UnixMilli()
		sent, _ := runNode(t, "alions-produce", nsEnv, "TOPIC="+topic, "PRODUCER=ali-ons")
		end := time.Now().UnixMilli()
		if len(sent) != xMatrixN {
			t.Fatalf("ali-ons sent %d of %d", len(sent), xMatrixN)
		}
		xs := make([]xsent, xMatrixN)
		for i := range xs {
			xs[i] = xsent{i: i, tsMin: start, tsMax: end}
		}
		got := xReadKgo(t, b, topic, uniqueGroup(t, "xg_kgo"), xMatrixN)
		checkXMessages(t, "ali-ons", xs, got, false, true)
	})

	// Kafka and RocketMQ producers read by the Node.js consumers.
	for _, p := range []xProducer{
		{"franz-go-gzip", func(t *testing.T, b *xBroker, topic string) []xsent {
			return xSendKgoCodec(t, b, topic, "franz-go-gzip", kgo.GzipCompression())
		}},
		{"rocketmq-sync", func(t *testing.T, b *xBroker, topic string) []xsent { return xSendRocketMQ(t, b, topic, false) }},
	} {
		t.Run(p.name, func(t *testing.T) {
			topic := "xp-" + p.name + "-" + kafkaTopicName(t, "n")
			b.createXTopic(t, topic, 2)
			sent := p.send(t, b, topic)
			t.Run("kafkajs-group", func(t *testing.T) {
				t.Parallel()
				_, got := runNode(t, "kafkajs-consume", kEnv, "TOPIC="+topic, "GROUP="+uniqueGroup(t, "xg_kafkajs"),
					"WANT="+strconv.Itoa(xMatrixN))
				checkXMessages(t, p.name, sent, got, false, true)
			})
			if p.name != "franz-go-gzip" {
				return // ali-ons reading RocketMQ messages is TestRocketMQAliOns
			}
			t.Run("ali-ons-push-TagA", func(t *testing.T) {
				t.Parallel()
				want := (xMatrixN + 1) / 2
				_, got := runNode(t, "alions-consume", nsEnv, "TOPIC="+topic, "GROUP="+uniqueGroup(t, "xg_ons"),
					"WANT="+strconv.Itoa(want), "EXPR=TagA")
				checkXMessages(t, p.name, sent, got, true, false)
			})
		})
	}
}

// xSendKgoCodec is xSendKgo (the matrix's franz-go row) with another codec
// and producer name.
func xSendKgoCodec(t *testing.T, b *xBroker, topic, name string, codec kgo.CompressionCodec) []xsent {
	cl := kgoClient(t, b.kafkaAddr, kgo.ProducerBatchCompression(codec), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	base := xBaseTS()
	var recs []*kgo.Record
	for i := range xMatrixN {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: xPartition(i), Key: []byte(xKey(i)), Value: []byte(xValue(name, i)),
			Timestamp: time.UnixMilli(base + int64(i)),
			Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(xHeader(i))}, {Key: "TAGS", Value: []byte(xTag(i))}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
	return kafkaSent(base)
}
