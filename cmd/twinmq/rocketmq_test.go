package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNamesrvAndBrokerCommands runs `twinmq namesrv` and `twinmq broker`
// registered with it until their context ends.
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
	brDone := run("broker", "--namesrv-addr", nsAddr+";"+nsAddr, "--remoting-addr", "127.0.0.1:0",
		"--data-dir", t.TempDir(), "--segment-size", "1048576")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ok := strings.Contains(logs.String(), "broker registered")
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker did not register:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for _, done := range []chan error{brDone, nsDone} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
