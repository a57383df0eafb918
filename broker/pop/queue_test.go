package pop

import (
	"errors"
	"reflect"
	"testing"
)

// TestQueueLifecycle steps one queue through take, expiry, redelivery,
// change and ack, checking what a consumer would see at each step.
func TestQueueLifecycle(t *testing.T) {
	q := NewQueue(10)
	locks := q.Take([]int64{10, 12}, 13, 1000, 500) // 11 filtered out
	if len(locks) != 2 || locks[0].Deadline != 1500 || locks[0].Attempts != 1 || locks[0].Serial == locks[1].Serial {
		t.Fatalf("take: %+v", locks)
	}
	if q.Acked != 10 || q.Next != 13 {
		t.Fatalf("acked %d next %d", q.Acked, q.Next)
	}
	if got := q.Expired(1499, 10); len(got) != 0 {
		t.Fatalf("expired before the deadline: %v", got)
	}
	if got := q.Expired(1500, 10); !reflect.DeepEqual(got, []int64{10, 12}) {
		t.Fatalf("expired: %v", got)
	}
	// An ack with the first lock after its deadline fails: the record
	// will be delivered again.
	if err := q.Ack(10, locks[0].Serial, 1500); !errors.Is(err, ErrLockExpired) {
		t.Fatalf("ack of an expired lock: %v", err)
	}
	l, err := q.Redeliver(10, 1500, 500)
	if err != nil || l.Attempts != 2 {
		t.Fatalf("redeliver: %+v %v", l, err)
	}
	if err := q.Ack(10, locks[0].Serial, 1600); !errors.Is(err, ErrLockExpired) {
		t.Fatalf("ack with the first delivery's lock: %v", err)
	}
	c, err := q.Change(10, l.Serial, 1600, 1000)
	if err != nil || c.Deadline != 2600 || c.Serial == l.Serial {
		t.Fatalf("change: %+v %v", c, err)
	}
	if err := q.Ack(10, l.Serial, 1700); !errors.Is(err, ErrLockExpired) {
		t.Fatalf("ack with the lock before the change: %v", err)
	}
	if err := q.Ack(10, c.Serial, 1700); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(10, c.Serial, 1700); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second ack: %v", err)
	}
	if err := q.Ack(11, 1, 1700); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("ack of a filtered offset: %v", err)
	}
	if q.Acked != 12 {
		t.Fatalf("acked %d, want 12 (12 in flight)", q.Acked)
	}
	q.Done(12)
	if q.Acked != 13 || len(q.InFlight) != 0 {
		t.Fatalf("acked %d in flight %d", q.Acked, len(q.InFlight))
	}
}

func TestQueueTakeIgnoresOutside(t *testing.T) {
	q := NewQueue(5)
	if locks := q.Take([]int64{3, 5, 9}, 8, 0, 100); len(locks) != 1 {
		t.Fatalf("locks %+v", locks)
	}
	if locks := q.Take([]int64{6}, 7, 0, 100); locks != nil || q.Next != 8 {
		t.Fatalf("a read behind next took %+v, next %d", locks, q.Next)
	}
}

func TestQueueReset(t *testing.T) {
	q := NewQueue(0)
	q.Take([]int64{0, 1, 5}, 6, 0, 100)
	q.Reset(3)
	if _, ok := q.InFlight[1]; ok || q.Acked != 5 || q.Next != 6 {
		t.Fatalf("%+v", q)
	}
}

func TestStateRoundTrip(t *testing.T) {
	q := NewQueue(100)
	q.Take([]int64{100, 101, 105}, 110, 42, 1000)
	q.Ack(101, q.InFlight[101].Serial, 50)
	got, err := DecodeState(q.AppendState(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Acked != q.Acked || got.Next != q.Next || !reflect.DeepEqual(got.InFlight, q.InFlight) || got.serial != q.InFlight[105].Serial {
		t.Fatalf("got %+v, want %+v", got, q)
	}
}

func TestDecodeStateRefuses(t *testing.T) {
	good := NewQueue(0)
	good.Take([]int64{1}, 2, 0, 1)
	b := good.AppendState(nil)
	cases := map[string][]byte{
		"empty":      nil,
		"version":    append([]byte{3}, b[1:]...),
		"short":      b[:len(b)-1],
		"long count": append(append([]byte{}, b[:17]...), 0xff, 0xff, 0xff, 0xff),
	}
	outside := append([]byte{}, b...)
	outside[stateHeader+7] = 9 // offset 9 >= next
	cases["offset outside"] = outside
	for name, in := range cases {
		if _, err := DecodeState(in); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	q := NewQueue(3)
	q.Take([]int64{3, 4, 6}, 7, 1, 2)
	f.Add(q.AppendState(nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodeState(b)
		if err != nil {
			return
		}
		again, err := DecodeState(q.AppendState(nil))
		if err != nil || again.Acked != q.Acked || again.Next != q.Next || !reflect.DeepEqual(again.InFlight, q.InFlight) {
			t.Fatalf("re-decode: %+v %v", again, err)
		}
	})
}
