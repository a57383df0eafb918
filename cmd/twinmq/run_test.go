package main

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink shared by run's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is the default configuration with its data in a temporary
// directory, 1 MiB segments, and every listener on a free port, so a
// machine running Kafka or RocketMQ fails no test. edit, if not nil,
// changes it before it is validated.
func testConfig(t *testing.T, edit func(*Config)) Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.SegmentSize = 1 << 20
	cfg.KafkaAddr, cfg.RemotingAddr, cfg.NamesrvListen, cfg.HTTPAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startStop runs serve until its store is open, cancels it and returns the
// logs.
func startStop(t *testing.T, cfg Config) string {
	t.Helper()
	return serveWhile(t, cfg, nil)
}

// serveWhile runs serve until it serves, calls during (if not nil) with
// the logs so far, then cancels it and returns the logs.
func serveWhile(t *testing.T, cfg Config, during func(logs string)) string {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, logger) }()

	// run logs the listeners after the store is open; poll for that line.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "msg=serving") {
		select {
		case err := <-done:
			t.Fatalf("run returned before ctx was done: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not open in time; logs:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if during != nil {
		during(logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not return after cancel; logs:\n%s", logs)
	}
	return logs.String()
}

func TestRunOpensAndClosesStore(t *testing.T) {
	cfg := testConfig(t, nil)

	logs := startStop(t, cfg)
	if _, err := os.Stat(cfg.storeDir()); err != nil {
		t.Errorf("store dir: %v", err)
	}
	for _, want := range []string{cfg.storeDir(), "ASYNC_FLUSH", "Kafka listening", "name server listening", "RocketMQ remoting listening", "HTTP listening", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}

	// The second start finds the first one's clean shutdown.
	logs = startStop(t, cfg)
	if !strings.Contains(logs, "clean=true") {
		t.Errorf("reopen did not see a clean shutdown:\n%s", logs)
	}
}

func TestRunBadStoreDir(t *testing.T) {
	cfg := defaultConfig()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = file // <file>/store cannot be created
	err := run(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "open store") {
		t.Fatalf("err = %v, want an open store error", err)
	}
}

// TestRunStoppedDuringStartUp: a stop (SIGINT) at any moment of start-up
// is a clean stop, not an error, and leaves the store reopenable.
func TestRunStoppedDuringStartUp(t *testing.T) {
	cfg := testConfig(t, nil)
	early := 0
	for i := range 40 {
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(t.Context())
		if i == 0 {
			cancel() // before anything starts
		} else {
			time.AfterFunc(time.Duration(i)*2*time.Millisecond, cancel)
		}
		if err := run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))); err != nil {
			t.Fatalf("stop %d (after %v): %v", i, time.Duration(i)*2*time.Millisecond, err)
		}
		cancel()
		if strings.Contains(logs.String(), "stopped during start-up") {
			early++
		} else if i == 0 {
			t.Fatalf("a stop before start-up was not seen as one:\n%s", logs)
		}
	}
	t.Logf("%d of 40 stops came during start-up", early)
}

// TestRunConnectionLimitsShared: maxConnectionsPerIp counts the Kafka and
// the RocketMQ listeners together.
func TestRunConnectionLimitsShared(t *testing.T) {
	cfg := testConfig(t, func(c *Config) { c.MaxConnectionsPerIP = 2 })
	serveWhile(t, cfg, func(logs string) {
		kafka, remoting := loggedAddr(t, logs, "Kafka listening"), loggedAddr(t, logs, "RocketMQ remoting listening")
		var open []net.Conn
		for _, addr := range []string{kafka, remoting} {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			open = append(open, c)
		}
		defer func() {
			for _, c := range open {
				c.Close()
			}
		}()
		// A third one from 127.0.0.1 makes one of the three (whichever the
		// listeners took last) be closed at once; the server sends nothing
		// first on either protocol, so a read ends only when one is closed.
		third, err := net.Dial("tcp", kafka)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, third)
		for deadline := time.Now().Add(10 * time.Second); ; {
			for _, c := range open {
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
				if _, err := c.Read(make([]byte, 1)); err != nil && !os.IsTimeout(err) {
					return // closed by the server
				}
			}
			if time.Now().After(deadline) {
				t.Fatal("three connections from one address stayed open with maxConnectionsPerIp 2")
			}
		}
	})
}

// loggedAddr is the addr= of the log line with msg.
func loggedAddr(t *testing.T, logs, msg string) string {
	t.Helper()
	for line := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(line, msg) {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if a, ok := strings.CutPrefix(f, "addr="); ok {
				return a
			}
		}
	}
	t.Fatalf("no %q line with addr= in:\n%s", msg, logs)
	return ""
}
