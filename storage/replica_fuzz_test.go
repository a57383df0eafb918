package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/twinmq/twinmq/storage/commitlog"
	"github.com/twinmq/twinmq/storage/vfs"
)

const fuzzSegSize = 4096

// fuzzConfig is a store on the in-memory file system: on real files
// each case's fsyncs (open, checkpoint, close) held the fuzzer to about
// 4 cases a second here. The code paths are the same (vfs.FS); the
// other replication tests run on real files.
func fuzzConfig(fs vfs.FS) Config {
	cfg := replConfig("data", AsyncFlush)
	cfg.FS, cfg.SegmentSize = fs, fuzzSegSize
	return cfg
}

// FuzzAppendReplica offers a replica a valid prefix of a primary's log
// (whole items, cut at item cut) followed by arbitrary bytes. It must
// never panic, take at least the prefix, write exactly the bytes it
// reports taking, write only valid entries and markers, fail only with
// ErrCorrupt, and leave a store that reopens with nothing to drop.
func FuzzAppendReplica(f *testing.F) {
	ctx := context.Background()
	p := mustOpen(f, fuzzConfig(vfs.NewMem()))
	rng := rand.New(rand.NewPCG(11, 11))
	for i := range 40 {
		e := msg(fmt.Sprint("T", i%3), int32(i%2), i)
		e.Payload = append(e.Payload, bytes.Repeat([]byte{'p'}, rng.IntN(400))...)
		if i%4 == 0 {
			e.Kind, e.Count, e.TagsCodes = KindKafka, 3, nil
		}
		if _, err := p.Append(ctx, []Entry{e}); err != nil {
			f.Fatal(err)
		}
	}
	_, valid := logBytes(f, p, rng)
	p.Close()
	items := itemStarts(f, valid)

	f.Add(uint16(len(items)-1), []byte(nil))
	f.Add(uint16(0), valid)
	for k := 1; k < len(items)-1; k += 5 {
		rest := valid[items[k]:]
		f.Add(uint16(k), bytes.Clone(rest))
		flip := bytes.Clone(rest)
		flip[rng.IntN(min(len(flip), 200))] ^= 0x40
		f.Add(uint16(k), flip)
		f.Add(uint16(k), bytes.Clone(rest[:min(len(rest), 7+k)]))
		f.Add(uint16(k), bytes.Clone(valid[:items[k]])) // the prefix again: a queue gap
	}

	f.Fuzz(func(t *testing.T, cut uint16, tail []byte) {
		prefix := valid[:items[int(cut)%len(items)]]
		data := append(bytes.Clone(prefix), tail...)
		fs := vfs.NewMem()
		r := mustOpen(t, fuzzConfig(fs))
		r.SetReplica(true)
		n, err := r.AppendReplica(ctx, 0, data)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("AppendReplica: %v", err)
		}
		if n < len(prefix) || n > len(data) {
			t.Fatalf("took %d bytes of %d, the valid prefix is %d", n, len(data), len(prefix))
		}
		check := func() {
			t.Helper()
			min, log := logBytes(t, r, rand.New(rand.NewPCG(uint64(n), 1)))
			if min != 0 || !bytes.Equal(log, data[:n]) {
				t.Fatalf("the replica holds %d bytes from %d, not the %d it took", len(log), min, n)
			}
			itemStarts(t, log) // every item valid
		}
		check()
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		r = mustOpen(t, fuzzConfig(fs))
		defer r.Close()
		if rec := r.Recovery(); rec.DroppedBytes != 0 || rec.Reason != "" {
			t.Fatalf("reopen dropped %d bytes: %s", rec.DroppedBytes, rec.Reason)
		}
		check()
	})
}

// itemStarts returns the start of every item (entry or end-of-segment
// marker) in log, a CommitLog from offset 0, and its end, checking each
// entry's CRC and header and each marker's length.
func itemStarts(t testing.TB, log []byte) []int {
	t.Helper()
	var out []int
	for p := 0; p < len(log); {
		out = append(out, p)
		if len(log)-p < commitlog.BlankSize {
			t.Fatalf("%d stray bytes at %d", len(log)-p, p)
		}
		n := int(binary.BigEndian.Uint32(log[p:]))
		if log[p+7] == 0x7f {
			if p%fuzzSegSize+n != fuzzSegSize && (p%replSegSize)+n != replSegSize {
				t.Fatalf("marker of %d bytes at %d", n, p)
			}
		} else if _, err := commitlog.ParseHeader(log[p:], true); err != nil {
			t.Fatalf("entry at %d: %v", p, err)
		}
		p += n
	}
	return append(out, len(log))
}
