package ha

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestHelloRoundTrip(t *testing.T) {
	for _, h := range []Hello{
		{Cluster: "DefaultCluster", Broker: "broker-a", BrokerID: 1, MinOffset: 0, WrittenOffset: 0},
		{Cluster: "C", Broker: "b1", BrokerID: 7, MinOffset: 1 << 30, WrittenOffset: 3<<30 + 12345},
		{Cluster: "", Broker: string(bytes.Repeat([]byte("x"), maxName)), BrokerID: 1},
		{Cluster: "C", Broker: "b1", BrokerID: 2, WrittenOffset: 99, Epochs: []Epoch{{1, 0}, {3, 40}, {4, 99}}},
		{Cluster: "C", Broker: "b1", BrokerID: 2, Epochs: []Epoch{}},
		{Cluster: "C", Broker: "b1", BrokerID: 3, WrittenOffset: 7, Confirm: true},
		{Cluster: "C", Broker: "b1", BrokerID: 3, Epochs: []Epoch{{2, 0}}, Confirm: true},
	} {
		b, err := AppendHello(nil, h)
		if err != nil {
			t.Fatal(err)
		}
		// Every strict prefix is "need more", never an error.
		for i := range len(b) {
			if _, n, err := DecodeHello(b[:i]); err != nil || n != 0 {
				t.Fatalf("prefix %d of %d: n=%d err=%v", i, len(b), n, err)
			}
		}
		got, n, err := DecodeHello(b)
		if err != nil || n != len(b) || !reflect.DeepEqual(got, h) {
			t.Fatalf("decode: %+v n=%d err=%v, want %+v n=%d", got, n, err, h, len(b))
		}
	}
	if _, err := AppendHello(nil, Hello{Broker: string(make([]byte, maxName+1))}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long name: %v", err)
	}
}

func TestHelloRefused(t *testing.T) {
	good, _ := AppendHello(nil, Hello{Cluster: "C", Broker: "b", BrokerID: 1, MinOffset: 5, WrittenOffset: 9})
	for name, mutate := range map[string]func(b []byte){
		"magic":     func(b []byte) { b[0] = 'X' },
		"version":   func(b []byte) { b[5] = 2 },
		"negative":  func(b []byte) { b[16] = 0x80 },
		"backwards": func(b []byte) { b[31] = 1 }, // written 1 < min 5
		"long name": func(b []byte) { b[32], b[33] = 0xff, 0xff },
		"flags":     func(b []byte) { b[7] = 4 },
	} {
		b := bytes.Clone(good)
		mutate(b)
		if _, _, err := DecodeHello(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReplyRoundTrip(t *testing.T) {
	for _, r := range []Reply{
		{Status: StatusOK, StartOffset: 1 << 30},
		{Status: StatusRefused, Reason: "slave of C/b2, this master is C/b1"},
		{Status: StatusTruncate, StartOffset: 4096, Epochs: []Epoch{{1, 0}, {2, 4096}}},
	} {
		b := AppendReply(nil, r)
		for i := range len(b) {
			if _, n, err := DecodeReply(b[:i]); err != nil || n != 0 {
				t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
			}
		}
		got, n, err := DecodeReply(b)
		if err != nil || n != len(b) || !reflect.DeepEqual(got, r) {
			t.Fatalf("decode: %+v n=%d err=%v", got, n, err)
		}
	}
	long := AppendReply(nil, Reply{Status: StatusRefused, Reason: string(make([]byte, 5000))})
	if got, _, err := DecodeReply(long); err != nil || len(got.Reason) != maxReplyText {
		t.Fatalf("long reason: %d %v", len(got.Reason), err)
	}
	bad := AppendReply(nil, Reply{Status: 9})
	if _, _, err := DecodeReply(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("status 9: %v", err)
	}
}

func TestFrameAndReport(t *testing.T) {
	b := AppendFrameHeader(nil, 1<<40, MaxFrameBody)
	if phys, size, err := DecodeFrameHeader(b); err != nil || phys != 1<<40 || size != MaxFrameBody {
		t.Fatalf("frame: %d %d %v", phys, size, err)
	}
	for _, b := range [][]byte{
		AppendFrameHeader(nil, 0, MaxFrameBody+1),
		AppendFrameHeader(nil, -1, 1),
		AppendFrameHeader(nil, 0, -1),
		make([]byte, FrameHeaderSize-1),
	} {
		if _, _, err := DecodeFrameHeader(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", b, err)
		}
	}
	c := AppendConfirmHeader(nil, 1<<40, 100, 1<<40+50)
	if phys, size, confirm, err := DecodeConfirmHeader(c); err != nil || phys != 1<<40 || size != 100 || confirm != 1<<40+50 {
		t.Fatalf("confirm frame: %d %d %d %v", phys, size, confirm, err)
	}
	for _, b := range [][]byte{
		AppendConfirmHeader(nil, 0, 1, -1),
		AppendConfirmHeader(nil, 0, MaxFrameBody+1, 0),
		c[:ConfirmHeaderSize-1],
	} {
		if _, _, _, err := DecodeConfirmHeader(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("% x: %v", b, err)
		}
	}
	if off, err := DecodeReport(AppendReport(nil, 12345)); err != nil || off != 12345 {
		t.Fatalf("report: %d %v", off, err)
	}
	if _, err := DecodeReport(AppendReport(nil, -5)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("negative report: %v", err)
	}
}

// FuzzDecode: no input makes a decoder panic or read past it, and what
// decodes re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	h, _ := AppendHello(nil, Hello{Cluster: "C", Broker: "b1", BrokerID: 1, MinOffset: 0, WrittenOffset: 100})
	f.Add(h)
	f.Add(AppendReply(nil, Reply{Status: StatusRefused, Reason: "no"}))
	f.Add(AppendFrameHeader(nil, 4096, 100))
	f.Add(AppendConfirmHeader(nil, 4096, 100, 4000))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, n, err := DecodeHello(b); err == nil && n > 0 {
			re, err := AppendHello(nil, h)
			if err != nil || !bytes.Equal(re[8:], b[8:n]) { // flags are not kept
				t.Fatalf("hello %+v re-encodes to % x, was % x", h, re, b[:n])
			}
		}
		if r, n, err := DecodeReply(b); err == nil && n > 0 {
			if re := AppendReply(nil, r); !bytes.Equal(re, b[:n]) {
				t.Fatalf("reply %+v re-encodes to % x, was % x", r, re, b[:n])
			}
		}
		if phys, size, err := DecodeFrameHeader(b); err == nil {
			if re := AppendFrameHeader(nil, phys, size); !bytes.Equal(re, b[:FrameHeaderSize]) {
				t.Fatalf("frame re-encodes to % x", re)
			}
		}
		if phys, size, confirm, err := DecodeConfirmHeader(b); err == nil {
			if re := AppendConfirmHeader(nil, phys, size, confirm); !bytes.Equal(re, b[:ConfirmHeaderSize]) {
				t.Fatalf("confirm frame re-encodes to % x", re)
			}
		}
		_, _ = DecodeReport(b)
	})
}

// TestUnsortedEpochsRefused: an epoch list that goes back is malformed.
func TestUnsortedEpochsRefused(t *testing.T) {
	b := AppendReply(nil, Reply{Status: StatusOK})
	b = b[:len(b)-2]
	b = appendEpochs(b, []Epoch{{3, 100}, {2, 200}})
	if _, _, err := DecodeReply(b); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted epochs: %v", err)
	}
}
