package storage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const replKillChildEnv = "TWINMQ_STORAGE_REPL_KILL_CHILD"

// replKillChild appends to a primary in <dir>/primary and copies its
// CommitLog into a replica in <dir>/replica, in the flush mode the
// environment names, as a slave would (random chunks, the unconsumed
// tail kept), and prints "at <written>" after every AppendReplica that
// took bytes: the replica's written end, durable in SYNC_FLUSH, in the
// page cache in ASYNC_FLUSH (both survive a process kill).
func replKillChild(dir string, out io.Writer) error {
	round, _ := strconv.Atoi(os.Getenv(replKillChildEnv + "_ROUND"))
	mode := SyncFlush
	if os.Getenv(replKillChildEnv+"_MODE") == "async" {
		mode = AsyncFlush
	}
	ctx := context.Background()
	p, err := Open(ctx, replConfig(filepath.Join(dir, "primary"), AsyncFlush))
	if err != nil {
		return err
	}
	r, err := Open(ctx, replConfig(filepath.Join(dir, "replica"), mode))
	if err != nil {
		return err
	}
	r.SetReplica(true)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(round)))
	w := bufio.NewWriter(out)
	var buf []byte
	for i := 0; ; i++ {
		batch := make([]Entry, 1+rng.IntN(8))
		for j := range batch {
			batch[j] = replEntry(rng, i*100+j)
		}
		if _, err := p.Append(ctx, batch); err != nil {
			return err
		}
		for range 1 + rng.IntN(4) {
			_, rw := r.LogRange()
			next := rw + int64(len(buf))
			dst := make([]byte, 1+rng.IntN(64<<10))
			k, err := p.ReadLog(next, dst)
			if err != nil {
				return err
			}
			buf = append(buf, dst[:k]...)
			n, err := r.AppendReplica(ctx, rw, buf)
			if err != nil {
				return err
			}
			buf = slices.Delete(buf, 0, n)
			if n > 0 {
				_, rw = r.LogRange()
				fmt.Fprintf(w, "at %d\n", rw)
				w.Flush()
			}
		}
	}
}

// TestReplicaSIGKILL kills a process that replicates a primary at a
// random moment, reopens both stores and checks that the replica holds
// at least what it reported, as a byte-identical prefix of the
// primary's log ending at an entry boundary, with ConsumeQueues that
// serve exactly the primary's entries below its end; then it copies the
// rest and compares the whole. Several rounds run against the same
// directories.
func TestReplicaSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) { replKillRounds(t, mode) })
	}
}

func replKillRounds(t *testing.T, mode string) {
	dir := t.TempDir()
	fmode := SyncFlush
	if mode == "async" {
		fmode = AsyncFlush
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), replKillChildEnv+"="+dir, fmt.Sprintf("%s_ROUND=%d", replKillChildEnv, round),
			replKillChildEnv+"_MODE="+mode)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 20 + rng.IntN(400)
		rd := bufio.NewReader(stdout)
		n, reported := 0, int64(0)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				break
			}
			f := strings.Fields(line)
			if len(f) != 2 || f[0] != "at" {
				t.Fatalf("child: %s", line)
			}
			if reported, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				t.Fatalf("child: %s", line)
			}
			if n++; n == killAfter {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		t.Logf("round %d: killed after %d replicated chunks, at %d", round, n, reported)

		p := mustOpen(t, replConfig(filepath.Join(dir, "primary"), AsyncFlush))
		r := mustOpen(t, replConfig(filepath.Join(dir, "replica"), fmode))
		if r.Recovery().CleanShutdown {
			t.Fatalf("round %d: a SIGKILL looked like a clean shutdown", round)
		}
		_, rw := r.LogRange()
		if rw < reported {
			t.Fatalf("round %d: the replica recovered to %d, it reported %d", round, rw, reported)
		}
		waitAllDispatched(t, p)
		waitAllDispatched(t, r)
		_, pb := logBytes(t, p, rng)
		_, rb := logBytes(t, r, rng)
		if int64(len(pb)) < rw || !slices.Equal(pb[:rw], rb) {
			t.Fatalf("round %d: the replica's log [0, %d) is not a prefix of the primary's [0, %d)", round, rw, len(pb))
		}
		for _, q := range r.Queues("") {
			var want []readBack
			for _, e := range queueEntries(t, p, q.Topic, q.Queue) {
				if e.Phys < rw {
					want = append(want, e)
				}
			}
			got := queueEntries(t, r, q.Topic, q.Queue)
			if len(got) != len(want) || (len(got) > 0 && (got[0].QueueOffset != want[0].QueueOffset ||
				got[len(got)-1].Phys != want[len(want)-1].Phys)) {
				t.Fatalf("round %d: %s/%d: the replica serves %d entries, the primary %d below %d", round, q.Topic, q.Queue, len(got), len(want), rw)
			}
		}
		// The next AppendReplica continues at the recovered end.
		r.SetReplica(true)
		sl := &slave{r: r}
		sl.catchUp(t, p, rng)
		sameStores(t, p, r, rng)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
