package storage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/storage/vfs"
)

const killChildEnv = "TWINMQ_STORAGE_KILL_CHILD"

// TestMain lets the test binary double as the child process of
// TestSIGKILL and TestReplicaSIGKILL.
func TestMain(m *testing.M) {
	child := killChild
	dir := os.Getenv(killChildEnv)
	if d := os.Getenv(replKillChildEnv); d != "" {
		child, dir = replKillChild, d
	}
	if dir != "" {
		if err := child(dir, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func killPayload(round, i int) []byte {
	return fmt.Appendf(nil, "round %d message %d %s", round, i, bytes.Repeat([]byte{'k'}, 100+i%300))
}

// killChild appends from 8 goroutines, in the flush mode the environment
// names, and prints one line per acknowledged append: "ack <round> <i>
// <queue> <offset>".
func killChild(dir string, out io.Writer) error {
	round, _ := strconv.Atoi(os.Getenv(killChildEnv + "_ROUND"))
	mode := SyncFlush
	if os.Getenv(killChildEnv+"_MODE") == "async" {
		mode = AsyncFlush
	}
	s, err := Open(context.Background(), Config{
		Dir: dir, FlushDiskType: mode, SegmentSize: 256 << 10, MappedMinUnflushed: -1,
		Logger: slog.New(slog.DiscardHandler), IndexSlots: 1024, IndexEntries: 8192, ConsumeQueueUnits: 1000,
	})
	if err != nil {
		return err
	}
	lines := make(chan string, 1024)
	for w := range 8 {
		go func() {
			for i := w; ; i += 8 {
				e := Entry{Kind: KindRocketMQ, Topic: "K", QueueID: int32(i % 4), Count: 1, Payload: killPayload(round, i)}
				pos, err := s.Append(context.Background(), []Entry{e})
				if err != nil {
					lines <- "err " + err.Error()
					return
				}
				lines <- fmt.Sprintf("ack %d %d %d %d", round, i, i%4, pos[0].QueueOffset)
			}
		}()
	}
	w := bufio.NewWriter(out)
	for l := range lines {
		fmt.Fprintln(w, l)
		if len(lines) == 0 {
			w.Flush()
		}
	}
	return nil
}

// TestSIGKILL runs a child process that appends and reports every
// acknowledged entry, kills it with SIGKILL at a random moment, reopens
// the store and checks that every acknowledged entry is there at its
// offset. Several rounds run against the same directory. A process kill
// leaves the page cache, so the promise holds in ASYNC_FLUSH too, where an
// append is acknowledged once stored through the segment's mapping.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) { killRounds(t, mode) })
	}
}

func killRounds(t *testing.T, mode string) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	type ack struct {
		round, i int
		queue    int32
		offset   int64
	}
	var acked []ack
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", killChildEnv, round),
			killChildEnv+"_MODE="+mode)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 50 + rng.IntN(1500)
		rd := bufio.NewReader(stdout)
		n := 0
		for {
			// A line the kill cut short has no newline: it was not fully
			// reported, so it is not counted.
			line, err := rd.ReadString('\n')
			if err != nil {
				break
			}
			f := strings.Fields(line)
			if len(f) != 5 || f[0] != "ack" {
				t.Fatalf("child: %s", line)
			}
			var a ack
			a.round, _ = strconv.Atoi(f[1])
			a.i, _ = strconv.Atoi(f[2])
			q, _ := strconv.Atoi(f[3])
			a.queue = int32(q)
			a.offset, _ = strconv.ParseInt(f[4], 10, 64)
			acked = append(acked, a)
			if n++; n == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		t.Logf("round %d: killed after %d acknowledged appends", round, n)

		s, err := Open(context.Background(), Config{Dir: dir, FS: vfs.Default(), Logger: slog.New(slog.DiscardHandler),
			SegmentSize: 256 << 10, IndexSlots: 1024, IndexEntries: 8192, ConsumeQueueUnits: 1000})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if s.Recovery().CleanShutdown {
			t.Fatalf("round %d: a SIGKILL looked like a clean shutdown", round)
		}
		for _, a := range acked {
			res, err := s.Read("K", a.queue, a.offset, ReadOptions{MaxEntries: 1})
			if err != nil || len(res.Entries) != 1 {
				t.Fatalf("round %d: acknowledged %+v not readable: %v", round, a, err)
			}
			if !bytes.Equal(res.Entries[0].Payload, killPayload(a.round, a.i)) {
				t.Fatalf("round %d: acknowledged %+v holds %q", round, a, res.Entries[0].Payload)
			}
			res.Release()
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// Leave the abort marker as a crash would, so the next round's
		// reopen is a crash recovery again.
	}
}
