package controller

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeCommand: a log entry never panics the decoder, a refusal is
// ErrCorrupt, and what decodes re-encodes to an entry that decodes to the
// same bytes again.
func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{
		&ApplyBrokerID{Cluster: "C", BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
		&RegisterBroker{Cluster: "C", BrokerName: "b", BrokerID: 1, Addr: "a:1"},
		&AlterSyncStateSet{BrokerName: "b", MasterID: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []int64{1, 2}, Alive: []int64{1, 2}},
		&ElectMaster{BrokerName: "b", BrokerID: -1, Alive: []int64{2}},
		&CleanBrokerData{BrokerName: "b", BrokerIDs: []int64{2}},
		&SetControllerAddr{ID: "n0", Addr: "127.0.0.1:9876"},
	} {
		b, _ := EncodeCommand(nil, c)
		f.Add(b)
	}
	f.Add([]byte{1, 4, '{', '}', ' ', '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not ErrCorrupt: %v", err)
			}
			return
		}
		enc, err := EncodeCommand(nil, cmd)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeCommand(enc)
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		enc2, _ := EncodeCommand(nil, back)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip: %s != %s", enc, enc2)
		}
		(&State{}).Apply(cmd) // never panics on any decoded command
	})
}

// FuzzDecodeState: a snapshot never panics the decoder, and what decodes
// holds the invariants and round-trips.
func FuzzDecodeState(f *testing.F) {
	s := twoBrokersState()
	b, _ := EncodeState(nil, s)
	f.Add(b)
	f.Add([]byte{1, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeState(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not ErrCorrupt: %v", err)
			}
			return
		}
		for _, g := range s.Groups() {
			if err := g.check(); err != nil {
				t.Fatal(err)
			}
		}
		enc, _ := EncodeState(nil, s)
		back, err := DecodeState(enc)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		enc2, _ := EncodeState(nil, back)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip: %s != %s", enc, enc2)
		}
	})
}

func twoBrokersState() *State {
	s := &State{}
	for _, c := range []Command{
		&ApplyBrokerID{Cluster: "C", BrokerName: "b", BrokerID: 1, CheckCode: "a:1;1"},
		&ApplyBrokerID{Cluster: "C", BrokerName: "b", BrokerID: 2, CheckCode: "a:2;1"},
		&ElectMaster{Cluster: "C", BrokerName: "b", BrokerID: 1},
	} {
		s.Apply(c)
	}
	return s
}
