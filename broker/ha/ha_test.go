package ha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	blog "github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/storage"
)

var quiet = slog.New(slog.DiscardHandler)

func openStore(t *testing.T, replica bool) *storage.Store {
	t.Helper()
	s, err := storage.Open(context.Background(), storage.Config{Dir: t.TempDir(), SegmentSize: 64 << 10, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	s.SetReplica(replica)
	return s
}

func entry(topic string, queue int32, i int) storage.Entry {
	return storage.Entry{Kind: storage.KindRocketMQ, Topic: topic, QueueID: queue, Count: 1,
		Keys: []string{fmt.Sprint("k", i)}, Payload: bytes.Repeat([]byte{byte(i)}, 100+i%700)}
}

// message is entry as the log service appends it.
func message(topic string, queue int32, i int) blog.Message {
	e := entry(topic, queue, i)
	return blog.Message{Kind: blog.KindRocketMQ, Topic: e.Topic, QueueID: e.QueueID, Count: e.Count, Keys: e.Keys, Payload: e.Payload}
}

func appendN(t *testing.T, s *storage.Store, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := s.Append(context.Background(), []storage.Entry{entry(fmt.Sprint("T", i%3), int32(i%4), i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func startMaster(t *testing.T, cfg MasterConfig) (*Master, string) {
	t.Helper()
	cfg.Logger = quiet
	if cfg.Cluster == "" {
		cfg.Cluster, cfg.Broker = "C", "b1"
	}
	m, err := NewMaster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve(ln) }()
	t.Cleanup(func() {
		_ = m.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return m, ln.Addr().String()
}

func startSlave(t *testing.T, store *storage.Store, addr string) (*Slave, context.CancelFunc) {
	t.Helper()
	s, err := NewSlave(SlaveConfig{Cluster: "C", Broker: "b1", BrokerID: 1, Store: store,
		MasterAddr: func() string { return addr }, Retry: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, stop
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBytes reads a store's whole CommitLog.
func logBytes(t *testing.T, s *storage.Store) []byte {
	t.Helper()
	min, written := s.LogRange()
	var out []byte
	buf := make([]byte, 1<<16)
	for at := min; at < written; {
		n, err := s.ReadLog(at, buf)
		if err != nil || n == 0 {
			t.Fatalf("ReadLog at %d: %d %v", at, n, err)
		}
		out = append(out, buf[:n]...)
		at += int64(n)
	}
	return out
}

func sameLogs(t *testing.T, master, slave *storage.Store) {
	t.Helper()
	_, mw := master.LogRange()
	eventually(t, "the slave to catch up", func() bool { _, w := slave.LogRange(); return w == mw })
	if !bytes.Equal(logBytes(t, master), logBytes(t, slave)) {
		t.Fatal("the slave's CommitLog differs from the master's")
	}
	for _, s := range []*storage.Store{master, slave} {
		eventually(t, "dispatch", func() bool { return s.Stats().DispatchedOffset == mw })
	}
	for topic := range 3 {
		for q := range int32(4) {
			name := fmt.Sprint("T", topic)
			mmax, err := master.MaxOffset(name, q)
			if err != nil {
				t.Fatal(err)
			}
			if smax, err := slave.MaxOffset(name, q); err != nil || smax != mmax {
				t.Fatalf("%s/%d: the slave's max offset is %d (%v), the master's %d", name, q, smax, err, mmax)
			}
		}
	}
}

// TestStreamCopiesTheLog: a slave that starts empty gets the master's
// whole log, byte for byte, across segment rolls, and follows appends made
// while it streams and after it reconnects; its ConsumeQueues hold what
// the master's do.
func TestStreamCopiesTheLog(t *testing.T) {
	master, slave := openStore(t, false), openStore(t, true)
	appendN(t, master, 0, 300) // several 64 KiB segments before the slave connects
	m, addr := startMaster(t, MasterConfig{Store: master})
	_, stop := startSlave(t, slave, addr)
	appendN(t, master, 300, 300)
	sameLogs(t, master, slave)
	if got := m.Slaves(); len(got) != 1 || got[0].BrokerID != 1 || !got[0].InSync {
		t.Fatalf("slaves: %+v", got)
	}
	stop()
	appendN(t, master, 600, 100)
	startSlave(t, slave, addr) // resumes at its written end
	sameLogs(t, master, slave)
}

// TestSyncMasterGatesOnTheSlave: on a SYNC_MASTER an append returns once
// the slave holds it, and readers never see what the in-sync slave does
// not hold. A hand-written slave that stops reporting makes the append
// time out (FLUSH_SLAVE_TIMEOUT) with the entry written but invisible;
// its report makes it visible.
func TestSyncMasterGatesOnTheSlave(t *testing.T) {
	master := openStore(t, false)
	master.GateVisible(true)
	m, addr := startMaster(t, MasterConfig{Store: master, Sync: true, SlaveTimeout: 300 * time.Millisecond})
	logs := blog.NewReplicated(master, m)
	ctx := context.Background()

	// No slave: the master alone acknowledges (minInSyncReplicas 1).
	if _, err := logs.Append(ctx, []blog.Message{message("T0", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := blog.WaitVisible(ctx, master, "T0", 0, 0); err != nil {
		t.Fatal(err)
	}

	// A real slave: every acknowledged append is on the slave already.
	slave := openStore(t, true)
	_, stop := startSlave(t, slave, addr)
	eventually(t, "the slave in sync", func() bool { s := m.Slaves(); return len(s) == 1 && s[0].InSync })
	for i := 1; i < 50; i++ {
		pos, err := logs.Append(ctx, []blog.Message{message("T0", 0, i)})
		if err != nil {
			t.Fatal(err)
		}
		end := pos[0].Phys + int64(pos[0].Size)
		if _, w := slave.LogRange(); w < end {
			t.Fatalf("append %d acknowledged at %d, the slave holds %d", i, end, w)
		}
	}
	stop()
	eventually(t, "the slave gone", func() bool { return len(m.Slaves()) == 0 })

	// A slave that reads the stream but stops reporting.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	min, written := master.LogRange()
	hello, _ := AppendHello(nil, Hello{Cluster: "C", Broker: "b1", BrokerID: 2, MinOffset: min, WrittenOffset: written})
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	r, err := readReply(c, 5*time.Second)
	if err != nil || r.Status != StatusOK || r.StartOffset != written {
		t.Fatalf("reply %+v %v", r, err)
	}
	go func() { _, _ = io.Copy(io.Discard, c) }()
	eventually(t, "the silent slave in sync", func() bool { s := m.Slaves(); return len(s) == 1 && s[0].InSync })
	const before = 50 // T0/0 holds offsets 0..49, all acknowledged
	eventually(t, "the acknowledged entries visible", func() bool { max, _ := master.MaxOffset("T0", 0); return max == before })
	pos, err := logs.Append(ctx, []blog.Message{message("T0", 0, 99)})
	if !errors.Is(err, blog.ErrReplicationTimeout) || len(pos) != 1 {
		t.Fatalf("append to a silent slave: %v %v", pos, err)
	}
	// The slave timeout gave the dispatcher time to show it, were it not
	// gated.
	if max, _ := master.MaxOffset("T0", 0); max != before || master.Stats().DispatchedOffset > pos[0].Phys {
		t.Fatalf("an unreplicated entry is visible: max offset %d, dispatched to %d, the entry at %d",
			max, master.Stats().DispatchedOffset, pos[0].Phys)
	}
	if _, err := c.Write(AppendReport(nil, pos[0].Phys+int64(pos[0].Size))); err != nil {
		t.Fatal(err)
	}
	if err := blog.WaitVisible(ctx, master, "T0", 0, pos[0].QueueOffset); err != nil {
		t.Fatal(err)
	}
}

// TestSlaveShowsOnlyConfirmed: a slave shows its readers (its
// ConsumeQueues, and so Kafka follower fetches and RocketMQ pulls) only
// what the master confirmed. With a second, silent slave in sync, an
// entry reaches the real slave's log but stays invisible there as on the
// master; the silent slave's report confirms it, and the real slave shows
// it then.
func TestSlaveShowsOnlyConfirmed(t *testing.T) {
	master := openStore(t, false)
	master.GateVisible(true)
	m, addr := startMaster(t, MasterConfig{Store: master, Sync: true, SlaveTimeout: 300 * time.Millisecond})
	logs := blog.NewReplicated(master, m)
	ctx := context.Background()
	slave := openStore(t, true)
	slave.GateVisible(true)
	s, _ := startSlave(t, slave, addr)
	for i := range 20 {
		if _, err := logs.Append(ctx, []blog.Message{message("T0", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the slave showing the acknowledged entries", func() bool { max, _ := slave.MaxOffset("T0", 0); return max == 20 })

	c, err := net.Dial("tcp", addr) // the silent slave
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	min, written := master.LogRange()
	hello, _ := AppendHello(nil, Hello{Cluster: "C", Broker: "b1", BrokerID: 2, MinOffset: min, WrittenOffset: written})
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	if r, err := readReply(c, 5*time.Second); err != nil || r.Status != StatusOK {
		t.Fatalf("reply %+v %v", r, err)
	}
	go func() { _, _ = io.Copy(io.Discard, c) }()
	eventually(t, "both slaves in sync", func() bool { s := m.Slaves(); return len(s) == 2 && s[0].InSync && s[1].InSync })

	pos, err := logs.Append(ctx, []blog.Message{message("T0", 0, 20)})
	if !errors.Is(err, blog.ErrReplicationTimeout) || len(pos) != 1 {
		t.Fatalf("append with a silent slave: %v %v", pos, err)
	}
	end := pos[0].Phys + int64(pos[0].Size)
	eventually(t, "the entry in the slave's log", func() bool { _, w := slave.LogRange(); return w >= end })
	time.Sleep(100 * time.Millisecond) // time to dispatch it, were it not gated
	if max, _ := slave.MaxOffset("T0", 0); max != 20 || s.Status().Confirmed >= end {
		t.Fatalf("the slave shows an unconfirmed entry: max offset %d, confirmed %d, entry ends at %d", max, s.Status().Confirmed, end)
	}
	if _, err := c.Write(AppendReport(nil, end)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the slave showing the confirmed entry", func() bool { max, _ := slave.MaxOffset("T0", 0); return max == 21 })
	if got := s.Status().Confirmed; got < end {
		t.Fatalf("confirmed %d, want >= %d", got, end)
	}
}

// TestMinInSyncReplicas: with minInSyncReplicas 2 and no slave, a
// SYNC_MASTER refuses appends before writing them.
func TestMinInSyncReplicas(t *testing.T) {
	master := openStore(t, false)
	master.GateVisible(true)
	m, _ := startMaster(t, MasterConfig{Store: master, Sync: true, MinInSyncReplicas: 2})
	_, before := master.LogRange()
	_, err := blog.NewReplicated(master, m).Append(context.Background(), []blog.Message{message("T0", 0, 0)})
	if !errors.Is(err, blog.ErrNotEnoughReplicas) {
		t.Fatalf("append: %v", err)
	}
	if _, after := master.LogRange(); after != before {
		t.Fatalf("a refused append was written: %d -> %d", before, after)
	}
}

// TestMasterRefusesStrangers: a peer that is not a slave of the group, or
// sends garbage, is refused and changes nothing on the master.
func TestMasterRefusesStrangers(t *testing.T) {
	master := openStore(t, false)
	appendN(t, master, 0, 50)
	want := logBytes(t, master)
	m, addr := startMaster(t, MasterConfig{Store: master, Housekeeping: 2 * time.Second})
	_, written := master.LogRange()
	for name, hello := range map[string]Hello{
		"other group":            {Cluster: "C", Broker: "b2", BrokerID: 1},
		"other cluster":          {Cluster: "D", Broker: "b1", BrokerID: 1},
		"a master id":            {Cluster: "C", Broker: "b1", BrokerID: 0},
		"ahead":                  {Cluster: "C", Broker: "b1", BrokerID: 1, WrittenOffset: written + 100},
		"newer epoch":            {Cluster: "C", Broker: "b1", BrokerID: 1, WrittenOffset: written, Epochs: []Epoch{{1, 0}, {3, 100}}},
		"epochs, master without": {Cluster: "C", Broker: "b1", BrokerID: 1, WrittenOffset: written, Epochs: []Epoch{{1, 0}}},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := AppendHello(nil, hello)
		_, _ = c.Write(b)
		r, err := readReply(c, 5*time.Second)
		if err != nil || r.Status != StatusRefused || r.Reason == "" {
			t.Errorf("%s: %+v %v", name, r, err)
		}
		c.Close()
	}
	for name, junk := range map[string][]byte{
		"http":      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"truncated": []byte{0x54, 0x51, 0x48, 0x41, 0, 1},
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write(junk)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := c.Read(make([]byte, 64)); err == nil {
			t.Errorf("%s: answered %d bytes", name, n)
		}
		c.Close()
	}
	if len(m.Slaves()) != 0 || !bytes.Equal(logBytes(t, master), want) {
		t.Fatal("strangers changed the master")
	}
}

// TestSlaveRefusesBadStreams: a master that sends a frame at the wrong
// offset or bytes that fail verification is dropped, and the slave's
// store keeps only verified entries.
func TestSlaveRefusesBadStreams(t *testing.T) {
	src := openStore(t, false)
	appendN(t, src, 0, 20)
	good := logBytes(t, src)
	for name, frame := range map[string]func() []byte{
		"wrong offset": func() []byte { return append(AppendFrameHeader(nil, 7, len(good[:500])), good[:500]...) },
		"flipped byte": func() []byte {
			b := bytes.Clone(good)
			b[len(b)/2] ^= 0x40
			return append(AppendFrameHeader(nil, 0, len(b)), b...)
		},
		"oversized": func() []byte { return AppendFrameHeader(nil, 0, MaxFrameBody+1) },
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			served := make(chan struct{})
			go func() {
				defer close(served)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if _, err := readHello(c, 5*time.Second); err != nil {
					return
				}
				_, _ = c.Write(AppendReply(nil, Reply{Status: StatusOK}))
				_, _ = c.Write(frame())
				_, _ = io.Copy(io.Discard, c) // until the slave hangs up
			}()
			slave := openStore(t, true)
			s, stop := startSlave(t, slave, ln.Addr().String())
			<-served // the slave closed the connection
			eventually(t, "the slave to record why", func() bool { return s.Status().LastError != "" })
			stop()
			_, w := slave.LogRange()
			got := logBytes(t, slave)
			if int64(len(got)) != w || !bytes.Equal(got, good[:len(got)]) {
				t.Fatalf("the slave holds %d bytes that are not a prefix of the stream", w)
			}
			if name == "flipped byte" && w >= int64(len(good)/2) {
				t.Fatalf("the slave kept %d bytes, past the flipped byte at %d", w, len(good)/2)
			}
		})
	}
}

// TestOldMasterTruncatesToTheNewMaster: the failover a controller
// drives, by hand. A (master of epoch 1) is copied by B, then writes a
// tail B never gets. B becomes master of epoch 2 at its own end and
// writes other entries. A, now a slave, is told to cut its tail
// (StatusTruncate), does, and then holds B's log byte for byte, B's
// epoch list in its epoch file.
func TestOldMasterTruncatesToTheNewMaster(t *testing.T) {
	a, b := openStore(t, false), openStore(t, true)
	appendN(t, a, 0, 200)
	_, addrA := startMaster(t, MasterConfig{Store: a, Epochs: func() []Epoch { return []Epoch{{1, 0}} }})
	epochsB := filepath.Join(t.TempDir(), "epochs-b")
	sb, err := NewSlave(SlaveConfig{Cluster: "C", Broker: "b1", BrokerID: 1, Store: b, EpochPath: epochsB,
		MasterAddr: func() string { return addrA }, Retry: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = sb.Run(ctx) }()
	_, aw := a.LogRange()
	eventually(t, "B to copy A", func() bool { _, w := b.LogRange(); return w == aw })
	cancel()
	<-done
	if l, _ := LoadEpochs(epochsB); !reflect.DeepEqual(l, []Epoch{{1, 0}}) {
		t.Fatalf("B's epochs: %v", l)
	}
	appendN(t, a, 200, 50) // A's tail, never replicated

	// B takes over at epoch 2.
	b.SetReplica(false)
	_, bw := b.LogRange()
	epochs := []Epoch{{1, 0}, {2, bw}}
	appendN(t, b, 1000, 80)
	_, addrB := startMaster(t, MasterConfig{Store: b, Epochs: func() []Epoch { return epochs }})

	// A comes back as B's slave.
	a.SetReplica(true)
	epochsA := filepath.Join(t.TempDir(), "epochs-a")
	if err := SaveEpochs(epochsA, []Epoch{{1, 0}}); err != nil {
		t.Fatal(err)
	}
	sa, err := NewSlave(SlaveConfig{Cluster: "C", Broker: "b1", BrokerID: 2, Store: a, EpochPath: epochsA,
		MasterAddr: func() string { return addrB }, Retry: 20 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); _ = sa.Run(ctx2) }()
	defer func() { cancel2(); <-done2 }()
	_, bw2 := b.LogRange()
	eventually(t, "A to follow B", func() bool { _, w := a.LogRange(); return w == bw2 })
	if !bytes.Equal(logBytes(t, a), logBytes(t, b)) {
		t.Fatal("A's log is not B's")
	}
	if l, _ := LoadEpochs(epochsA); !reflect.DeepEqual(l, epochs) {
		t.Fatalf("A's epochs: %v, want %v", l, epochs)
	}
}

// TestControlledSyncStateSet: in controller mode the master waits for
// exactly the confirmed SyncStateSet. A caught-up slave is proposed for
// it; once confirmed, appends wait for it; once it dies, appends time out
// until the controller confirms the set without it.
func TestControlledSyncStateSet(t *testing.T) {
	master := openStore(t, false)
	master.GateVisible(true)
	m, addr := startMaster(t, MasterConfig{Store: master, Sync: true, SlaveTimeout: 300 * time.Millisecond})
	m.SetSyncStateSet(0, []int64{0})
	logs := blog.NewReplicated(master, m)
	ctx := context.Background()
	if _, err := logs.Append(ctx, []blog.Message{message("T0", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	slave := openStore(t, true)
	_, stop := startSlave(t, slave, addr)
	var proposal []int64
	eventually(t, "the slave proposed", func() bool {
		_, _ = logs.Append(ctx, []blog.Message{message("T0", 0, 1)}) // reports come after appends
		p, changed := m.ProposeSyncStateSet(time.Now(), 0)
		proposal = p
		return changed
	})
	if !slices.Equal(proposal, []int64{0, 1}) {
		t.Fatalf("proposal %v", proposal)
	}
	m.SetSyncStateSet(0, proposal)
	for i := range 20 {
		pos, err := logs.Append(ctx, []blog.Message{message("T0", 0, 100+i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, w := slave.LogRange(); w < pos[0].Phys+int64(pos[0].Size) {
			t.Fatalf("acknowledged before the member had it")
		}
	}
	stop()
	eventually(t, "the slave gone", func() bool { return len(m.Slaves()) == 0 })
	if _, err := logs.Append(ctx, []blog.Message{message("T0", 0, 200)}); !errors.Is(err, blog.ErrReplicationTimeout) {
		t.Fatalf("append with a dead member in the set: %v", err)
	}
	p, changed := m.ProposeSyncStateSet(time.Now(), 0)
	if !changed || !slices.Equal(p, []int64{0}) {
		t.Fatalf("proposal without the dead slave: %v %v", p, changed)
	}
	m.SetSyncStateSet(0, p)
	if _, err := logs.Append(ctx, []blog.Message{message("T0", 0, 201)}); err != nil {
		t.Fatal(err)
	}
}
