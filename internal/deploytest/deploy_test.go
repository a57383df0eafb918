package deploytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// member is what the test reads of `cluster info --format json`.
type member struct {
	BrokerID  int64  `json:"brokerId"`
	Addr      string `json:"addr"`
	Answered  bool   `json:"answered"`
	Role      string `json:"role"`
	Connected *bool  `json:"connected"`
	InSync    *int   `json:"inSyncSlaves"`
}

type view struct {
	Clusters []struct {
		Name   string `json:"name"`
		Groups []struct {
			BrokerName string   `json:"brokerName"`
			Members    []member `json:"members"`
		} `json:"brokerGroups"`
	} `json:"clusters"`
}

// want is one broker a script starts: group, id, role and host.
type want struct {
	group string
	id    int64
	role  string
	host  string
}

const nsHost = "127.0.3.1"

var modes = []struct {
	script  string
	brokers []want
}{
	{"single-master.sh", []want{{"broker-a", 0, "ASYNC_MASTER", "127.0.3.11"}}},
	{"multi-master.sh", []want{{"broker-a", 0, "ASYNC_MASTER", "127.0.3.11"}, {"broker-b", 0, "ASYNC_MASTER", "127.0.3.21"}}},
	{"multi-master-async-slave.sh", []want{
		{"broker-a", 0, "ASYNC_MASTER", "127.0.3.11"}, {"broker-a", 1, "SLAVE", "127.0.3.12"},
		{"broker-b", 0, "ASYNC_MASTER", "127.0.3.21"}, {"broker-b", 1, "SLAVE", "127.0.3.22"}}},
	{"multi-master-sync-slave.sh", []want{
		{"broker-a", 0, "SYNC_MASTER", "127.0.3.11"}, {"broker-a", 1, "SLAVE", "127.0.3.12"},
		{"broker-b", 0, "SYNC_MASTER", "127.0.3.21"}, {"broker-b", 1, "SLAVE", "127.0.3.22"}}},
}

// TestDeployScripts runs each deploy/<mode>.sh with a temporary data
// directory, waits until `twinmq cluster info` shows every broker of the
// mode answering (with its role; slaves streaming, masters with their
// slave in sync), then sends the script's process group a SIGINT, as a
// Ctrl-C in a terminal does, and checks that the script exits 0 and no
// process it started is left.
func TestDeployScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds twinmq and runs each deployment mode (-short)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin := filepath.Join(t.TempDir(), "twinmq")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/twinmq").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, m := range modes {
		t.Run(strings.TrimSuffix(m.script, ".sh"), func(t *testing.T) {
			free(t, m.brokers)
			runMode(t, bin, m.script, m.brokers)
		})
	}
}

// free skips the test when an address the mode listens on is taken.
func free(t *testing.T, brokers []want) {
	t.Helper()
	addrs := []string{nsHost + ":9876"}
	for _, b := range brokers {
		for _, p := range []string{"9092", "10911", "10912", "8080"} {
			addrs = append(addrs, b.host+":"+p)
		}
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Skipf("%s is taken (%v): another broker or test runs here", a, err)
		}
		ln.Close()
	}
}

// syncBuffer is the script's output, written by exec's copier and read by
// the test.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func runMode(t *testing.T, bin, script string, brokers []want) {
	dir := t.TempDir()
	out := &syncBuffer{}
	cmd := exec.Command("bash", filepath.Join("..", "..", "deploy", script), dir)
	cmd.Env = append(os.Environ(), "TWINMQ="+bin)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group of its own
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	t.Cleanup(func() {
		if !exited {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		for _, pid := range startedBy(dir) { // what the script left, whatever its group
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			t.Logf("--- %s output:\n%s", script, out)
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("--- %s (last 2000 bytes):\n%s", filepath.Base(l), b[max(len(b)-2000, 0):])
			}
		}
	})

	// Up: every broker answers with its role, slaves stream, and each
	// master of a group with a slave has it in sync.
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			exited = true
			t.Fatalf("%s exited before its brokers were up: %v", script, err)
		default:
		}
		v, raw, err := clusterInfo(bin)
		last = raw
		if err == nil && allUp(v, brokers) == nil {
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = allUp(v, brokers)
			}
			t.Fatalf("%s: not every broker up in 20 s: %v\n%s", script, err, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "Ctrl-C stops everything") || !strings.Contains(out.String(), nsHost+":9876") {
		t.Errorf("%s did not say how to connect:\n%s", script, out)
	}

	// Ctrl-C: SIGINT to the script's process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("%s after SIGINT: %v", script, err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("%s still runs 15 s after SIGINT", script)
	}
	if left := startedBy(dir); len(left) > 0 {
		t.Errorf("processes left after %s stopped: %v", script, left)
	}
	// The Ctrl-C reached only the script: each broker stopped on the one
	// SIGTERM the script sent (a second signal would have killed its
	// clean shutdown) and closed its store.
	for _, b := range brokers {
		log, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s-%d.log", b.group, b.id)))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(log); !strings.Contains(s, `msg=stopping cause="terminated signal received"`) ||
			strings.Contains(s, "interrupt signal received") || !strings.Contains(s, "msg=stopped") {
			t.Errorf("%s-%d did not stop cleanly on the script's SIGTERM alone:\n%s", b.group, b.id, log)
		}
	}
}

// clusterInfo runs `twinmq cluster info --format json`.
func clusterInfo(bin string) (view, string, error) {
	var v view
	out, err := exec.Command(bin, "cluster", "info", "--namesrv-addr", nsHost+":9876", "--format", "json", "--timeout", "1s").CombinedOutput()
	if err != nil {
		return v, string(out), err
	}
	return v, string(out), json.Unmarshal(out, &v)
}

// allUp is nil when v shows every broker of ws, and only those, up.
func allUp(v view, ws []want) error {
	got := map[string]member{}
	for _, c := range v.Clusters {
		for _, g := range c.Groups {
			for _, m := range g.Members {
				got[fmt.Sprintf("%s/%s/%d", c.Name, g.BrokerName, m.BrokerID)] = m
			}
		}
	}
	if len(got) != len(ws) {
		return fmt.Errorf("%d brokers registered, want %d", len(got), len(ws))
	}
	hasSlave := map[string]bool{}
	for _, w := range ws {
		hasSlave[w.group] = hasSlave[w.group] || w.role == "SLAVE"
	}
	for _, w := range ws {
		key := fmt.Sprintf("DefaultCluster/%s/%d", w.group, w.id)
		m, ok := got[key]
		switch {
		case !ok:
			return fmt.Errorf("%s not registered", key)
		case !m.Answered || m.Role != w.role || m.Addr != w.host+":10911":
			return fmt.Errorf("%s: %+v, want role %s at %s:10911", key, m, w.role, w.host)
		case w.role == "SLAVE" && (m.Connected == nil || !*m.Connected):
			return fmt.Errorf("%s: not streaming from its master", key)
		case w.role != "SLAVE" && hasSlave[w.group] && (m.InSync == nil || *m.InSync != 1):
			return fmt.Errorf("%s: its slave is not in sync", key)
		}
	}
	return nil
}

// startedBy lists the processes whose command line names dir: the ones a
// script started with its data directory.
func startedBy(dir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(dir)) && !isZombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// isZombie reports whether pid has exited and waits for its parent.
func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) S ...: the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}
