package kafka

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// update regenerates testdata/ from a real client: go test ./wire/kafka -run TestGolden -update
var update = flag.Bool("update", false, "regenerate testdata golden fixtures with kgo against kfake")

// goldenCodecs names each fixture batch and the kgo settings that produce it.
var goldenCodecs = []struct {
	name  string
	codec int8
	kgo   kgo.CompressionCodec
}{
	// kgo sends snappy as a raw block; its xerial framing appears only
	// when StreamingCompression merges a backlog, which a fixture run
	// cannot force, so xerial is covered by xerialFrame in the tests.
	{"none", CodecNone, kgo.NoCompression()},
	{"gzip", CodecGzip, kgo.GzipCompression()},
	{"snappy", CodecSnappy, kgo.SnappyCompression()},
	{"lz4", CodecLZ4, kgo.Lz4Compression()},
	{"zstd", CodecZstd, kgo.ZstdCompression()},
}

// goldenRecords is what the generator produces, in order, into a
// one-partition topic, so that every fixture is one batch of these.
func goldenRecords() []*kgo.Record {
	var rs []*kgo.Record
	for i := range 4 {
		r := &kgo.Record{
			Key:   []byte(fmt.Sprintf("key-%d", i)),
			Value: bytes.Repeat([]byte(fmt.Sprintf("value %d ", i)), 8),
			Headers: []kgo.RecordHeader{
				{Key: "TAGS", Value: []byte(fmt.Sprintf("tag%d", i%2))},
				{Key: "trace", Value: []byte{byte(i), 0xff}},
			},
		}
		switch i {
		case 2:
			r.Key = nil // null key
		case 3:
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "empty"}) // null header value
		}
		rs = append(rs, r)
	}
	return rs
}

func TestGoldenUpdate(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata from kgo")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "golden"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var mu sync.Mutex
	var batch []byte
	var produceFrame, fetchFrame []byte
	frame := func(req kmsg.Request) []byte {
		// kfake hands us the parsed request; re-frame it as kgo did (its
		// default client id is "kgo") and drop the size prefix, which
		// netio strips before ParseRequest.
		f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("kgo")).AppendRequest(nil, req, 7)
		return f[4:]
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		pr := req.(*kmsg.ProduceRequest)
		for _, tp := range pr.Topics {
			for _, p := range tp.Partitions {
				if len(p.Records) > 0 && batch == nil {
					batch = bytes.Clone(p.Records)
					if produceFrame == nil {
						produceFrame = frame(req)
					}
				}
			}
		}
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if fetchFrame == nil {
			fetchFrame = frame(req)
		}
		return nil, nil, false
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, gc := range goldenCodecs {
		mu.Lock()
		batch = nil
		mu.Unlock()
		opts := []kgo.Opt{
			kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.DefaultProduceTopic("golden"),
			kgo.ProducerBatchCompression(gc.kgo),
			kgo.ProducerLinger(50 * time.Millisecond),
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, goldenRecords()...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", gc.name, err)
		}
		cl.Close()
		mu.Lock()
		b := batch
		mu.Unlock()
		if b == nil {
			t.Fatalf("%s: no batch captured", gc.name)
		}
		writeFixture(t, "batch-"+gc.name, b, dumpBatch(b))
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("golden"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	fs := cl.PollFetches(ctx)
	cl.Close()
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	writeFixture(t, "request-produce", produceFrame, dumpRequest(produceFrame))
	writeFixture(t, "request-fetch", fetchFrame, dumpRequest(fetchFrame))
}

func writeFixture(t *testing.T, name string, bin []byte, txt string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("testdata", name+".bin"), bin, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", name+".txt"), []byte(txt), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dumpBatch is the readable dump written beside a batch fixture.
func dumpBatch(b []byte) string {
	var sb strings.Builder
	h, err := ValidateBatch(b, 0)
	fmt.Fprintf(&sb, "# captured from kgo (franz-go) against kfake; regenerate with -update\n")
	fmt.Fprintf(&sb, "size %d validate: %v\n%+v\n", len(b), err, h)
	fmt.Fprintf(&sb, "codec %d timestampType %d transactional %v control %v\n",
		h.Compression(), h.TimestampType(), h.IsTransactional(), h.IsControl())
	_ = ForEachRecord(b, 0, func(r Record) error {
		fmt.Fprintf(&sb, "record offsetDelta=%d tsDelta=%d key=%q (null %v) value=%q\n",
			r.OffsetDelta, r.TimestampDelta, r.Key, r.Key == nil, r.Value)
		for _, hd := range r.Headers {
			fmt.Fprintf(&sb, "  header %q = %q (null %v)\n", hd.Key, hd.Value, hd.Value == nil)
		}
		return nil
	})
	fmt.Fprintf(&sb, "hex:\n%x\n", b)
	return sb.String()
}

func dumpRequest(frame []byte) string {
	h, req, err := ParseRequest(frame)
	var sb strings.Builder
	fmt.Fprintf(&sb, "# request frame without size prefix, kgo against kfake (re-framed by kmsg); regenerate with -update\n")
	fmt.Fprintf(&sb, "key %d version %d correlation %d flexible %v", h.APIKey, h.APIVersion, h.CorrelationID, h.Flexible)
	if h.ClientID != nil {
		fmt.Fprintf(&sb, " client %q", *h.ClientID)
	}
	fmt.Fprintf(&sb, " body %d bytes, parse: %v\n", len(h.Body), err)
	if req != nil {
		fmt.Fprintf(&sb, "%+v\n", req)
	}
	fmt.Fprintf(&sb, "hex:\n%x\n", frame)
	return sb.String()
}
