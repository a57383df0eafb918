package storage

import (
	"errors"
	"testing"

	"github.com/twinmq/twinmq/storage/vfs"
)

func TestCheckpointRoundTrip(t *testing.T) {
	tests := []checkpoint{
		{Recovery: 0, Queues: map[queueKey]queueMark{}},
		{Recovery: 1 << 40, Queues: map[queueKey]queueMark{
			{"a", 0}: {0, 10}, {"%RETRY%g", 3}: {5, 7}, {"", 1}: {0, 0},
		}},
	}
	for _, c := range tests {
		got, err := decodeCheckpoint(c.encode())
		if err != nil {
			t.Fatal(err)
		}
		if got.Recovery != c.Recovery || len(got.Queues) != len(c.Queues) {
			t.Fatalf("round trip %+v -> %+v", c, got)
		}
		for k, m := range c.Queues {
			if got.Queues[k] != m {
				t.Fatalf("queue %v: %+v, want %+v", k, got.Queues[k], m)
			}
		}
	}
}

func TestCheckpointDamage(t *testing.T) {
	b := (&checkpoint{Recovery: 42, Queues: map[queueKey]queueMark{{"t", 0}: {1, 2}}}).encode()
	for i := range b {
		d := append([]byte(nil), b...)
		d[i] ^= 0x40
		if _, err := decodeCheckpoint(d); !errors.Is(err, errCheckpointCorrupt) {
			t.Fatalf("flip at %d accepted: %v", i, err)
		}
	}
	if _, err := decodeCheckpoint(b[:len(b)-1]); err == nil {
		t.Fatal("truncated checkpoint accepted")
	}
}

func TestCheckpointAtomicWrite(t *testing.T) {
	fs := vfs.NewMem()
	fs.MkdirAll("d", 0o755)
	fs.SyncDir(".")
	c := checkpoint{Recovery: 7, Queues: map[queueKey]queueMark{}}
	if err := writeCheckpoint(fs, "d", &c); err != nil {
		t.Fatal(err)
	}
	crashed := fs.CrashClone(vfs.CrashConfig{})
	got, found, err := readCheckpoint(crashed, "d")
	if err != nil || !found || got.Recovery != 7 {
		t.Fatalf("after crash: %+v found=%v err=%v", got, found, err)
	}
}

func FuzzCheckpoint(f *testing.F) {
	f.Add((&checkpoint{Recovery: 9, Queues: map[queueKey]queueMark{{"t", 2}: {1, 5}}}).encode())
	f.Add([]byte("TQCP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		again, err := decodeCheckpoint(c.encode())
		if err != nil || again.Recovery != c.Recovery || len(again.Queues) != len(c.Queues) {
			t.Fatalf("re-encode of a valid checkpoint: %v", err)
		}
	})
}
