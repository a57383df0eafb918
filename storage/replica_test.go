package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

const replSegSize = 64 << 10

// replConfig is a store on real files with small segments, its timers
// out of the way (tests dispatch by polling).
func replConfig(dir string, mode FlushDiskType) Config {
	return Config{
		Dir: dir, FS: vfs.Default(), Logger: slog.New(slog.DiscardHandler), FlushDiskType: mode,
		SegmentSize: replSegSize, ConsumeQueueUnits: 64, IndexSlots: 256, IndexEntries: 4096,
		FlushInterval: time.Hour, CheckpointInterval: time.Hour, RetentionCheckInterval: time.Hour,
		MappedMinUnflushed: -1,
	}
}

// replEntry is a random entry: a Kafka batch of 1-5 records or a
// RocketMQ message with a tag, over topics A, B and C and 4 queues, now
// and then one of 20 KiB, which leaves a large blank at a segment's end.
func replEntry(rng *rand.Rand, i int) Entry {
	size := 20 + rng.IntN(1500)
	if rng.IntN(25) == 0 {
		size = 20 << 10
	}
	p := make([]byte, size)
	for j := range p {
		p[j] = byte(rng.Uint32())
	}
	e := Entry{Topic: string(rune('A' + rng.IntN(3))), QueueID: int32(rng.IntN(4)), Payload: p, Keys: []string{fmt.Sprint("key-", i)}}
	if rng.IntN(2) == 0 {
		e.Kind, e.Count = KindKafka, int32(1+rng.IntN(5))
	} else {
		e.Kind, e.Count, e.TagsCodes = KindRocketMQ, 1, []int64{int64(rng.IntN(7))}
	}
	return e
}

// slave copies a primary's CommitLog into a replica as a real slave
// would: it asks for bytes from where its buffer ends and offers the
// buffer, keeping what AppendReplica did not take.
type slave struct {
	r   *Store
	buf []byte
}

// step reads up to chunk bytes from p and offers them; it reports
// whether the replica has caught up with p's written end.
func (sl *slave) step(t testing.TB, p *Store, chunk int) bool {
	t.Helper()
	_, w := sl.r.LogRange()
	next := w + int64(len(sl.buf))
	_, pw := p.LogRange()
	if next == pw && len(sl.buf) == 0 {
		return true
	}
	if next < pw {
		dst := make([]byte, chunk)
		k, err := p.ReadLog(next, dst)
		if err != nil {
			t.Fatalf("ReadLog(%d): %v", next, err)
		}
		sl.buf = append(sl.buf, dst[:k]...)
	}
	n, err := sl.r.AppendReplica(context.Background(), w, sl.buf)
	if err != nil {
		t.Fatalf("AppendReplica(%d, %d bytes): %v", w, len(sl.buf), err)
	}
	if n == 0 && next == pw {
		t.Fatalf("AppendReplica(%d): the primary's whole log (%d bytes buffered) is no whole entry", w, len(sl.buf))
	}
	sl.buf = slices.Delete(sl.buf, 0, n)
	return false
}

func (sl *slave) catchUp(t testing.TB, p *Store, rng *rand.Rand) {
	t.Helper()
	for !sl.step(t, p, 1+rng.IntN(64<<10)) {
	}
}

// logBytes reads a store's CommitLog [min, written) with ReadLog, in
// chunks of random sizes.
func logBytes(t testing.TB, s *Store, rng *rand.Rand) (int64, []byte) {
	t.Helper()
	min, w := s.LogRange()
	var out []byte
	for p := min; p < w; {
		dst := make([]byte, 1+rng.IntN(100<<10))
		n, err := s.ReadLog(p, dst)
		if err != nil || n == 0 {
			t.Fatalf("ReadLog(%d) of [%d, %d): %d, %v", p, min, w, n, err)
		}
		out = append(out, dst[:n]...)
		p += int64(n)
	}
	if n, err := s.ReadLog(w, make([]byte, 10)); n != 0 || err != nil {
		t.Fatalf("ReadLog at the written end: %d, %v", n, err)
	}
	return min, out
}

// waitAllDispatched polls until everything written is readable.
func waitAllDispatched(t testing.TB, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := s.Stats()
		if st.DispatchedOffset == st.WrittenOffset {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dispatched %d, written %d", st.DispatchedOffset, st.WrittenOffset)
		}
		time.Sleep(time.Millisecond)
	}
}

type readBack struct {
	Kind        Kind
	Phys        int64
	QueueOffset int64
	Count       int32
	StoreTime   int64
	Payload     []byte
}

func queueEntries(t testing.TB, s *Store, topic string, queue int32) []readBack {
	t.Helper()
	var out []readBack
	_, err := s.Replay(topic, queue, 0, func(e ReadEntry) error {
		out = append(out, readBack{e.Kind, e.Phys, e.QueueOffset, e.Count, e.StoreTime, bytes.Clone(e.Payload)})
		return nil
	})
	if err != nil {
		t.Fatalf("replay %s/%d: %v", topic, queue, err)
	}
	return out
}

// sameStores checks that the replica holds the primary's CommitLog byte
// for byte and serves the same queues.
func sameStores(t testing.TB, p, r *Store, rng *rand.Rand) {
	t.Helper()
	waitAllDispatched(t, p)
	waitAllDispatched(t, r)
	pm, pb := logBytes(t, p, rng)
	rm, rb := logBytes(t, r, rng)
	if pm != rm || !bytes.Equal(pb, rb) {
		t.Fatalf("CommitLogs differ: primary [%d, +%d), replica [%d, +%d)", pm, len(pb), rm, len(rb))
	}
	pq, rq := p.Queues(""), r.Queues("")
	if !slices.Equal(pq, rq) {
		t.Fatalf("queues differ:\nprimary %v\nreplica %v", pq, rq)
	}
	for _, q := range pq {
		pe, re := queueEntries(t, p, q.Topic, q.Queue), queueEntries(t, r, q.Topic, q.Queue)
		if !slices.EqualFunc(pe, re, func(a, b readBack) bool {
			return a.Kind == b.Kind && a.Phys == b.Phys && a.QueueOffset == b.QueueOffset &&
				a.Count == b.Count && a.StoreTime == b.StoreTime && bytes.Equal(a.Payload, b.Payload)
		}) {
			t.Fatalf("%s/%d: the replica reads %d entries, the primary %d, or they differ", q.Topic, q.Queue, len(re), len(pe))
		}
	}
}

// TestReplicaCopiesPrimary fills a primary with a mix of Kafka and
// RocketMQ entries over 12 queues, across many segment rolls and a topic
// deletion, and copies its CommitLog into a replica in chunks of random
// sizes interleaved with more appends. The logs must be byte-identical,
// the queues read the same, and the replica, promoted, must continue
// every queue at the primary's next offset.
func TestReplicaCopiesPrimary(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(string(mode), func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 2))
			p := mustOpen(t, replConfig(t.TempDir(), mode))
			defer p.Close()
			rdir := t.TempDir()
			r := mustOpen(t, replConfig(rdir, mode))
			r.SetReplica(true)
			sl := &slave{r: r}
			i := 0
			for round := range 120 {
				batch := make([]Entry, 1+rng.IntN(12))
				for j := range batch {
					batch[j] = replEntry(rng, i)
					i++
				}
				if _, err := p.Append(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
				if round == 60 {
					if err := p.DeleteTopic("C"); err != nil {
						t.Fatal(err)
					}
				}
				for range rng.IntN(6) {
					if sl.step(t, p, 1+rng.IntN(64<<10)) {
						break
					}
				}
			}
			sl.catchUp(t, p, rng)
			if _, w := p.LogRange(); w < 8*replSegSize {
				t.Fatalf("the primary wrote %d bytes: too few segment rolls", w)
			}
			sameStores(t, p, r, rng)

			// A reopened replica recovers to the same state and goes on.
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			r = mustOpen(t, replConfig(rdir, mode))
			defer r.Close()
			r.SetReplica(true)
			sl = &slave{r: r}
			for range 5 {
				batch := []Entry{replEntry(rng, i), replEntry(rng, i+1)}
				i += 2
				if _, err := p.Append(context.Background(), batch); err != nil {
					t.Fatal(err)
				}
			}
			sl.catchUp(t, p, rng)
			sameStores(t, p, r, rng)

			r.SetReplica(false)
			for _, q := range p.Queues("") {
				e := Entry{Kind: KindRocketMQ, Topic: q.Topic, QueueID: q.Queue, Count: 1, Payload: []byte("after promotion")}
				pos, err := r.Append(context.Background(), []Entry{e})
				if err != nil {
					t.Fatal(err)
				}
				if pos[0].QueueOffset != q.Max {
					t.Fatalf("%s/%d: the promoted replica appended at %d, the primary's next is %d", q.Topic, q.Queue, pos[0].QueueOffset, q.Max)
				}
			}
			e := Entry{Kind: KindKafka, Topic: "new", Count: 3, Payload: []byte("batch")}
			if pos, err := r.Append(context.Background(), []Entry{e}); err != nil || pos[0].QueueOffset != 0 {
				t.Fatalf("a new queue on the promoted replica: %v %v", pos, err)
			}
		})
	}
}

// replFixture is a primary with entries over a few segments and a
// replica that holds its log up to an entry boundary in the middle.
type replFixture struct {
	p, r *Store
	rng  *rand.Rand
	// items are the primary's item boundaries (entries and markers), in
	// log order, from 0 to its written end.
	items []int64
	log   []byte // the primary's log from 0
}

func newReplFixture(t *testing.T, mode FlushDiskType) *replFixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	f := &replFixture{rng: rng}
	f.p = mustOpen(t, replConfig(t.TempDir(), mode))
	t.Cleanup(func() { f.p.Close() })
	for i := range 300 {
		if _, err := f.p.Append(context.Background(), []Entry{replEntry(rng, i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, f.log = logBytes(t, f.p, rng)
	for pos := int64(0); pos < int64(len(f.log)); {
		f.items = append(f.items, pos)
		pos += int64(binary.BigEndian.Uint32(f.log[pos:]))
	}
	f.items = append(f.items, int64(len(f.log)))
	f.r = mustOpen(t, replConfig(t.TempDir(), mode))
	t.Cleanup(func() { f.r.Close() })
	f.r.SetReplica(true)
	f.copyTo(t, f.items[len(f.items)/2])
	return f
}

// copyTo replicates the primary's log up to end (an item boundary).
func (f *replFixture) copyTo(t *testing.T, end int64) {
	t.Helper()
	_, w := f.r.LogRange()
	if n, err := f.r.AppendReplica(context.Background(), w, f.log[w:end]); err != nil || int64(n) != end-w {
		t.Fatalf("AppendReplica(%d, [%d, %d)): %d, %v", w, w, end, n, err)
	}
}

// next returns the index in items of the replica's written end.
func (f *replFixture) next(t *testing.T) int {
	_, w := f.r.LogRange()
	i, ok := slices.BinarySearch(f.items, w)
	if !ok {
		t.Fatalf("the replica ends at %d, not an item boundary", w)
	}
	return i
}

// refuse offers data at the replica's end and checks that it is refused
// with an error wrapping target, after exactly keep bytes, and that the
// replica's log is then its old log plus those keep bytes of data.
func (f *replFixture) refuse(t *testing.T, data []byte, keep int, target error) {
	t.Helper()
	_, before := logBytes(t, f.r, f.rng)
	_, w := f.r.LogRange()
	n, err := f.r.AppendReplica(context.Background(), w, data)
	if !errors.Is(err, target) || n != keep {
		t.Fatalf("AppendReplica: %d, %v; want %d, %v", n, err, keep, target)
	}
	_, after := logBytes(t, f.r, f.rng)
	if !bytes.Equal(after, append(before, data[:keep]...)) {
		t.Fatalf("a refused chunk changed the replica's log: %d bytes, want %d", len(after), len(before)+keep)
	}
}

// sealCRC recomputes an entry's CRC-32C (commitlog's layout: bytes
// [0,8) then [12,length)), after a test changed a field.
func sealCRC(e []byte) {
	c := crc32.Update(0, crc32.MakeTable(crc32.Castagnoli), e[:8])
	c = crc32.Update(c, crc32.MakeTable(crc32.Castagnoli), e[12:])
	binary.BigEndian.PutUint32(e[8:], c)
}

func isMarker(b []byte) bool { return b[7] == 0x7f }

func TestReplicaRefusals(t *testing.T) {
	f := newReplFixture(t, AsyncFlush)
	ctx := context.Background()
	i := f.next(t)
	a, b, c := f.items[i], f.items[i+1], f.items[i+2]
	if isMarker(f.log[a:]) || isMarker(f.log[b:]) {
		t.Fatal("fixture: expected two entries at the replica's end")
	}

	t.Run("wrong offset", func(t *testing.T) {
		for _, at := range []int64{a - 1, a + 1, b, f.items[0], a + replSegSize} {
			n, err := f.r.AppendReplica(ctx, at, f.log[a:c])
			var oe *ReplicaOffsetError
			if n != 0 || !errors.As(err, &oe) || oe.Want != a || oe.Got != at || !errors.Is(err, ErrReplicaOffset) {
				t.Fatalf("AppendReplica at %d (end %d): %d, %v", at, a, n, err)
			}
		}
	})

	t.Run("flipped byte", func(t *testing.T) {
		// Every byte of the first entry, flipped, stops the chunk at
		// once; only a length made longer than the bytes offered may
		// just wait for more. A flip in the second entry stops it after
		// the first, which is written.
		tail := f.log[a:min(int(c)+replSegSize, len(f.log))]
		_, before := logBytes(t, f.r, f.rng)
		for j := range b - a {
			data := bytes.Clone(tail)
			data[j] ^= byte(1 + f.rng.IntN(255))
			n, err := f.r.AppendReplica(ctx, a, data)
			if n != 0 || (!errors.Is(err, ErrCorrupt) && (err != nil || j >= 4)) {
				t.Fatalf("byte %d of the entry at %d flipped: %d, %v", j, a, n, err)
			}
			if _, after := logBytes(t, f.r, f.rng); !bytes.Equal(after, before) {
				t.Fatalf("byte %d of the entry at %d flipped: the replica's log changed", j, a)
			}
		}
		data := bytes.Clone(tail)
		data[b-a+(c-b)/2] ^= 0x20
		f.refuse(t, data, int(b-a), ErrCorrupt)
	})

	t.Run("queue gap", func(t *testing.T) {
		i := f.next(t)
		a, b := f.items[i], f.items[i+1]
		for _, d := range []int64{1, -1, 1000} {
			e := bytes.Clone(f.log[a:b])
			qo := int64(binary.BigEndian.Uint64(e[24:]))
			binary.BigEndian.PutUint64(e[24:], uint64(qo+d))
			sealCRC(e)
			f.refuse(t, e, 0, ErrCorrupt)
		}
		e := bytes.Clone(f.log[a:b])
		binary.BigEndian.PutUint32(e[20:], uint32(0xffffffff)-1) // queue id -2
		sealCRC(e)
		f.refuse(t, e, 0, ErrCorrupt)
	})

	t.Run("bad marker", func(t *testing.T) {
		i := f.next(t)
		m := i
		for !isMarker(f.log[f.items[m]:]) {
			m++
		}
		f.copyTo(t, f.items[m])
		at, end := f.items[m], f.items[m+1]
		marker := f.log[at:end]
		short := bytes.Clone(marker)
		binary.BigEndian.PutUint32(short, uint32(len(marker)-8))
		f.refuse(t, short, 0, ErrCorrupt)
		long := bytes.Clone(marker)
		binary.BigEndian.PutUint32(long, uint32(len(marker)+8))
		f.refuse(t, long, 0, ErrCorrupt)
		if len(marker) > 8 {
			dirty := bytes.Clone(marker)
			dirty[len(dirty)-1] = 1
			f.refuse(t, dirty, 0, ErrCorrupt)
		}
		// A marker where an entry belongs: the rest of its "segment" is
		// not what it says.
		f.copyTo(t, end)
		fake := bytes.Clone(marker[:8])
		binary.BigEndian.PutUint32(fake, uint32(len(marker)))
		f.refuse(t, append(fake, make([]byte, len(marker))...), 0, ErrCorrupt)
		// An entry that leaves no room for a marker before its segment's
		// end: Append would have rolled.
		f.copyTo(t, f.items[m+2])
		q := f.items[m+2]
		hl := int64(binary.BigEndian.Uint32(f.log[q+12:]))
		if l := replSegSize - q%replSegSize - 4; l > hl {
			e := append(bytes.Clone(f.log[q:q+hl]), make([]byte, l-hl)...)
			binary.BigEndian.PutUint32(e, uint32(l))
			sealCRC(e)
			f.refuse(t, e, 0, ErrCorrupt)
		}
		f.copyTo(t, f.items[m+3])
	})

	t.Run("local writes on a replica", func(t *testing.T) {
		e := msg("A", 0, 1)
		if _, err := f.r.Append(ctx, []Entry{e}); !errors.Is(err, ErrReplica) {
			t.Fatalf("Append on a replica: %v", err)
		}
		if err := f.r.DeleteTopic("A"); !errors.Is(err, ErrReplica) {
			t.Fatalf("DeleteTopic on a replica: %v", err)
		}
		if err := f.r.SetMinOffset("A", 0, 1); !errors.Is(err, ErrReplica) {
			t.Fatalf("SetMinOffset on a replica: %v", err)
		}
		sync := mustOpen(t, replConfig(t.TempDir(), SyncFlush))
		defer sync.Close()
		sync.SetReplica(true)
		if _, err := sync.Append(ctx, []Entry{e}); !errors.Is(err, ErrReplica) {
			t.Fatalf("SYNC_FLUSH Append on a replica: %v", err)
		}
		if _, w := sync.LogRange(); w != 0 {
			t.Fatalf("a refused append wrote %d bytes", w)
		}
	})

	t.Run("replica append on a primary", func(t *testing.T) {
		_, w := f.p.LogRange()
		if n, err := f.p.AppendReplica(ctx, w, f.log[:f.items[1]]); n != 0 || !errors.Is(err, ErrNotReplica) {
			t.Fatalf("AppendReplica on a primary: %d, %v", n, err)
		}
	})

	// Whatever was refused, the replica still takes the rest and ends up
	// the primary's copy.
	sl := &slave{r: f.r}
	sl.catchUp(t, f.p, f.rng)
	sameStores(t, f.p, f.r, f.rng)
}

// TestReplicaNewQueueStartsAnywhere: a queue the replica has never held
// may start at any offset, and its ConsumeQueue starts there; after
// that the queue must continue.
func TestReplicaNewQueueStartsAnywhere(t *testing.T) {
	ctx := context.Background()
	src := mustOpen(t, replConfig(t.TempDir(), AsyncFlush))
	defer src.Close()
	for i := range 3 {
		if _, err := src.Append(ctx, []Entry{msg("N", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	_, raw := logBytes(t, src, rand.New(rand.NewPCG(1, 1)))
	var es [][]byte
	for p := 0; p < len(raw); {
		n := int(binary.BigEndian.Uint32(raw[p:]))
		e := bytes.Clone(raw[p : p+n])
		binary.BigEndian.PutUint64(e[24:], uint64(100+len(es)))
		if len(es) == 2 {
			binary.BigEndian.PutUint64(e[24:], 105) // a gap
		}
		sealCRC(e)
		es = append(es, e)
		p += n
	}
	r := mustOpen(t, replConfig(t.TempDir(), AsyncFlush))
	defer r.Close()
	r.SetReplica(true)
	data := slices.Concat(es...)
	n, err := r.AppendReplica(ctx, 0, data)
	if !errors.Is(err, ErrCorrupt) || n != len(es[0])+len(es[1]) {
		t.Fatalf("AppendReplica: %d, %v", n, err)
	}
	waitAllDispatched(t, r)
	if min, _ := r.MinOffset("N", 0); min != 100 {
		t.Fatalf("the new queue starts at %d, want 100", min)
	}
	if max, _ := r.MaxOffset("N", 0); max != 102 {
		t.Fatalf("the new queue ends at %d, want 102", max)
	}
	got := queueEntries(t, r, "N", 0)
	if len(got) != 2 || got[0].QueueOffset != 100 || got[1].QueueOffset != 101 {
		t.Fatalf("read back %+v", got)
	}
}

// TestReplicaRestartsAtPrimarySegment: an empty replica asked for a
// later segment start (the primary's retention removed the older ones)
// restarts its log there; a non-empty one refuses.
func TestReplicaRestartsAtPrimarySegment(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 3))
	pdir := t.TempDir()
	cfg := replConfig(pdir, AsyncFlush)
	cfg.RetentionBytes = 3 * replSegSize
	p := mustOpen(t, cfg)
	defer p.Close()
	for i := range 400 {
		if _, err := p.Append(ctx, []Entry{replEntry(rng, i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitAllDispatched(t, p)
	if err := p.EnforceRetention(); err != nil {
		t.Fatal(err)
	}
	pmin, _ := p.LogRange()
	if pmin == 0 {
		t.Fatal("retention removed nothing")
	}

	// A replica that held entries once, all gone with its old segments,
	// and queues whose offsets the primary's log no longer matches.
	rdir := t.TempDir()
	r := mustOpen(t, replConfig(rdir, AsyncFlush))
	for i := range 5 {
		if _, err := r.Append(ctx, []Entry{msg("A", 0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	r.SetReplica(true)
	if n, err := r.AppendReplica(ctx, pmin, []byte{1, 2, 3}); n != 0 || !errors.Is(err, ErrReplicaOffset) {
		t.Fatalf("a replica holding entries restarted: %d, %v", n, err)
	}
	r.Close()

	r = mustOpen(t, replConfig(t.TempDir(), AsyncFlush))
	defer r.Close()
	r.SetReplica(true)
	head := make([]byte, 8)
	if _, err := p.ReadLog(pmin, head); err != nil {
		t.Fatal(err)
	}
	if n, err := r.AppendReplica(ctx, pmin+replSegSize/2, head); n != 0 || !errors.Is(err, ErrReplicaOffset) {
		t.Fatalf("a restart inside a segment: %d, %v", n, err)
	}
	// Nothing whole yet: nothing restarts.
	if n, err := r.AppendReplica(ctx, pmin, head); n != 0 || err != nil {
		t.Fatalf("a partial first entry: %d, %v", n, err)
	}
	if min, w := r.LogRange(); min != 0 || w != 0 {
		t.Fatalf("a partial first entry restarted the log: [%d, %d)", min, w)
	}
	bad := bytes.Clone(head)
	bad[4] = 0
	if n, err := r.AppendReplica(ctx, pmin, bad); n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a bad first entry: %d, %v", n, err)
	}
	if min, w := r.LogRange(); min != 0 || w != 0 {
		t.Fatalf("a bad first entry restarted the log: [%d, %d)", min, w)
	}
	sl := &slave{r: r, buf: nil}
	// The slave asks from the primary's min offset, as broker/ha would
	// once the primary says its log starts there.
	dst := make([]byte, 64<<10)
	k, err := p.ReadLog(pmin, dst)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.AppendReplica(ctx, pmin, dst[:k])
	if err != nil || n == 0 {
		t.Fatalf("restart: %d, %v", n, err)
	}
	sl.buf = append(sl.buf, dst[n:k]...)
	sl.catchUp(t, p, rng)
	sameStores(t, p, r, rng)
}

// TestGateVisible: with the gate on, entries past the replicated mark
// are not readable (Read, MaxOffset, Notify, ReadAt, DispatchNow,
// HoldDispatch), and become readable once the mark passes them.
func TestGateVisible(t *testing.T) {
	for _, mode := range []FlushDiskType{AsyncFlush, SyncFlush} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := context.Background()
			s := mustOpen(t, replConfig(t.TempDir(), mode))
			defer s.Close()
			pos, err := s.Append(ctx, []Entry{msg("G", 0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			waitDispatched(t, s, "G", 0, 1)
			s.GateVisible(true)
			s.SetReplicated(pos[0].Phys + int64(pos[0].Size))
			fired := make(chan struct{})
			cancel := s.Notify("G", 0, 1, func() { close(fired) })
			defer cancel()
			ends := []int64{pos[0].Phys + int64(pos[0].Size)} // ends[k]: the end of offset k
			for i := 1; i <= 3; i++ {
				p, err := s.Append(ctx, []Entry{msg("G", 0, i)})
				if err != nil {
					t.Fatal(err)
				}
				ends = append(ends, p[0].Phys+int64(p[0].Size))
			}
			hidden := func(max int64) {
				t.Helper()
				if s.DispatchNow() {
					t.Fatal("DispatchNow dispatched past the replicated mark")
				}
				if s.HoldDispatch() {
					s.ReleaseDispatch()
					t.Fatal("HoldDispatch while gated")
				}
				if got, _ := s.MaxOffset("G", 0); got != max {
					t.Fatalf("max offset %d, want %d", got, max)
				}
				res, err := s.Read("G", 0, 0, ReadOptions{})
				if err != nil || len(res.Entries) != int(max) {
					t.Fatalf("read %d entries (%v), want %d", len(res.Entries), err, max)
				}
				res.Release()
				if _, err := s.ReadAt(ends[max-1]); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("ReadAt past the mark: %v", err)
				}
			}
			hidden(1)
			select {
			case <-fired:
				t.Fatal("Notify fired for an entry not replicated")
			default:
			}
			s.SetReplicated(ends[1])
			<-fired
			waitDispatched(t, s, "G", 0, 2)
			hidden(2)
			s.SetReplicated(ends[1] - 1) // never lowers
			s.SetReplicated(ends[2])
			waitDispatched(t, s, "G", 0, 3)
			hidden(3)
			s.GateVisible(false)
			waitDispatched(t, s, "G", 0, 4)
			if mode == AsyncFlush {
				if !s.HoldDispatch() {
					t.Fatal("HoldDispatch refused with the gate off")
				}
				s.ReleaseDispatch()
			}
		})
	}
}
