package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestNamesrvAndBrokerCommands runs `twinmq namesrv` and `twinmq broker`
// registered with it (twice: every broker registers with every name
// server), produces and consumes a record through the broker's Kafka
// listener, and stops both when their context ends.
func TestNamesrvAndBrokerCommands(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	nsAddr, err := fixPort("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	run := func(args ...string) chan error {
		cmd := newRootCommand(nil)
		cmd.SetErr(w)
		cmd.SetArgs(args)
		done := make(chan error, 1)
		go func() { done <- cmd.ExecuteContext(ctx) }()
		return done
	}
	nsDone := run("namesrv", "--namesrv-listen", nsAddr)
	// Every listener on a free port: the default HA address (:10912 on
	// every interface) clashes with any broker running on this machine.
	brDone := run("broker", "--namesrv-addr", nsAddr+";"+nsAddr, "--remoting-addr", "127.0.0.1:0", "--ha-addr", "127.0.0.1:0",
		"--kafka-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--segment-size", "1048576")
	// Stopped before the data directory is removed, also when the test
	// fails half-way.
	stop := sync.OnceValue(func() []error { cancel(); return []error{<-brDone, <-nsDone} })
	t.Cleanup(func() { stop() })
	var m []string
	kafkaAddr := regexp.MustCompile(`msg="Kafka listening" addr=(\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		registered := strings.Contains(logs.String(), "broker registered")
		m = kafkaAddr.FindStringSubmatch(logs.String())
		mu.Unlock()
		if registered && m != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not register and listen for Kafka:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	kafkaRoundTrip(t, m[1])
	for _, err := range stop() {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// kafkaRoundTrip produces a record with franz-go to the broker at addr
// (creating its topic) and fetches it back with its key and header.
func kafkaRoundTrip(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(),
		kgo.ConsumeTopics("cmd-broker"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sent := &kgo.Record{Topic: "cmd-broker", Key: []byte("k"), Value: []byte("v"),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
	if err := cl.ProduceSync(ctx, sent).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", addr, err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("no record fetched from %s: %v", addr, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		var got []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		if len(got) == 0 {
			continue
		}
		r := got[0]
		if len(got) != 1 || string(r.Key) != "k" || string(r.Value) != "v" || len(r.Headers) != 1 ||
			r.Headers[0].Key != "h" || string(r.Headers[0].Value) != "x" || r.Offset != 0 {
			t.Fatalf("fetched %d records, the first %+v; want the one sent", len(got), r)
		}
		return
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
