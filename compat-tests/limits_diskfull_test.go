package compattests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"

	"github.com/twinmq/twinmq/storage"
)

// The disk-full tests run a broker on a small tmpfs of its own, fill it
// with a file until writes fail with ENOSPC, and check that clients get
// the protocol's retriable error, that writes resume by themselves once
// the file is removed, and that every acknowledged message is read back
// once. Mounting needs root (CAP_SYS_ADMIN); without it they skip.

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted
// at the end of the test (after the broker stops: cleanups run last
// first).
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs for a disk-full test (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file into dir until the file system is full and
// returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		_, err := f.Write(buf)
		if errors.Is(err, syscall.ENOSPC) {
			return name
		}
		if err != nil {
			t.Fatalf("fill %s: %v", dir, err)
		}
	}
}

// diskFullStore is the store configuration of the disk-full tests: small
// files that fit the tmpfs, a reserve, and a guard that looks at the free
// space often, so that the test does not wait long for either transition.
func diskFullStore(dir string) storage.Config {
	return storage.Config{Dir: dir, SegmentSize: 4 << 20, DiskReserveBytes: 1 << 20,
		CheckpointInterval: 10 * time.Millisecond, IndexSlots: 1024, IndexEntries: 4096, ConsumeQueueUnits: 4096}
}

// TestKafkaDiskFullKgo: franz-go producing to a broker whose disk is full
// gets KAFKA_STORAGE_ERROR (retriable), a producer with default retries
// blocks and then succeeds once space returns, and a consumer reads every
// acknowledged record exactly once.
func TestKafkaDiskFullKgo(t *testing.T) {
	mnt := mountTmpfs(t, 24<<20)
	b := startKafkaStore(t, diskFullStore(filepath.Join(mnt, "data")), "127.0.0.1:0", nil)
	topic := kafkaTopicName(t, "diskfull")
	createTopic(t, b.addr, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var acked []string
	produce := func(cl *kgo.Client, v string) error {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v)}).FirstErr()
		if err == nil {
			acked = append(acked, v)
		}
		return err
	}
	main := kgoClient(t, b.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	for i := range 20 {
		if err := produce(main, fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}

	filler := fillDisk(t, mnt)
	// A producer that does not retry sees the broker's answer itself.
	probe := kgoClient(t, b.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0),
		kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
	for i := 0; ; i++ {
		err := produce(probe, fmt.Sprint("probe-", i))
		if errors.Is(err, kerr.KafkaStorageError) {
			break
		}
		if err != nil {
			t.Fatalf("produce on a full disk: %v, want KAFKA_STORAGE_ERROR", err)
		}
		if ctx.Err() != nil {
			t.Fatal("the broker kept accepting records on a full disk")
		}
	}
	if !b.store.Stats().NoSpace || b.store.Stats().Err != nil {
		t.Fatalf("store stats on a full disk: %+v", b.store.Stats())
	}

	// The default producer retries the retriable error until space returns.
	blocked := make(chan error, 1)
	go func() {
		blocked <- main.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("during")}).FirstErr()
	}()
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; err != nil {
		t.Fatalf("produce while the disk was full, once space returned: %v", err)
	}
	acked = append(acked, "during")
	for i := range 20 {
		if err := produce(main, fmt.Sprint("after-", i)); err != nil {
			t.Fatal(err)
		}
	}

	recs := consumeKgo(t, b.addr, topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, len(acked))
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	slices.Sort(got)
	slices.Sort(acked)
	if !slices.Equal(got, acked) {
		t.Fatalf("read %d records, want the %d acknowledged:\n got %q\nwant %q", len(got), len(acked), got, acked)
	}
}

// TestRocketMQDiskFullSend: rocketmq-client-go's SendSync on a full disk
// fails with SERVICE_NOT_AVAILABLE (14) after its retries, succeeds once
// space returns, and a push consumer receives every message sent OK
// exactly once.
func TestRocketMQDiskFullSend(t *testing.T) {
	mnt := mountTmpfs(t, 24<<20)
	c := startRocketMQWith(t, filepath.Join(mnt, "data"), func(cfg *storage.Config) {
		d := diskFullStore(cfg.Dir)
		d.Logger = cfg.Logger
		*cfg = d
	})
	const topic = "RmqDiskFull"
	p := c.producer(t)
	var sent []string
	send := func(body string) error {
		r, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(body)))
		if err == nil && r.Status == primitive.SendOK {
			sent = append(sent, body)
		}
		return err
	}
	for i := range 20 {
		if err := send(fmt.Sprint("before-", i)); err != nil {
			t.Fatal(err)
		}
	}
	filler := fillDisk(t, mnt)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		err := send(fmt.Sprint("probe-", i))
		if err != nil && strings.Contains(err.Error(), "CODE: 14") {
			break
		}
		if err != nil {
			t.Fatalf("send on a full disk: %v, want SERVICE_NOT_AVAILABLE (14)", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the broker kept accepting messages on a full disk")
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, func() bool {
		err := send("resumed")
		if err != nil && !strings.Contains(err.Error(), "CODE: 14") {
			t.Fatalf("send after space returned: %v", err)
		}
		return err == nil
	})
	for i := range 20 {
		if err := send(fmt.Sprint("after-", i)); err != nil {
			t.Fatal(err)
		}
	}

	col := newCollector()
	pc := c.pushConsumer(t, uniqueGroup(t, "cg_diskfull"))
	if err := pc.Subscribe(topic, consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= int64(len(sent)) })
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, body := range sent {
		if n := len(col.msgs[body]); n != 1 {
			t.Errorf("%s delivered %d times, want once", body, n)
		}
	}
	if len(col.msgs) != len(sent) {
		t.Fatalf("received %d distinct messages, sent %d OK", len(col.msgs), len(sent))
	}
}
