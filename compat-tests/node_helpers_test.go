package compattests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// nodeInstall runs `npm ci` in compat-tests/node at most once per test
// binary, when the pinned packages are missing or older than the lock file.
var nodeInstall struct {
	once sync.Once
	err  error
}

// nodeClients returns the node binary and compat-tests/node with the
// Node.js clients of package-lock.json (kafkajs, ali-ons) installed. On a
// fresh clone it installs them itself with `npm ci` (about 2 s), so
// `go test ./...` runs these tests everywhere; without node and npm it
// fails with the command that fixes it. TWINMQ_COMPAT_SKIP_NODE=1 skips
// them on purpose.
func nodeClients(t *testing.T) (nodeBin, dir string) {
	t.Helper()
	if os.Getenv("TWINMQ_COMPAT_SKIP_NODE") == "1" {
		t.Skip("TWINMQ_COMPAT_SKIP_NODE=1")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	nodeBin, err = exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: apt-get install -y nodejs npm (or set TWINMQ_COMPAT_SKIP_NODE=1 to skip the Node.js clients)")
	}
	nodeInstall.once.Do(func() { nodeInstall.err = npmCI(dir) })
	if nodeInstall.err != nil {
		t.Fatalf("installing the Node.js clients: %v\nfix: (cd compat-tests/node && npm ci)", nodeInstall.err)
	}
	return nodeBin, dir
}

// npmCI installs dir's package-lock.json unless node_modules already
// holds it: npm ci records the installed tree in
// node_modules/.package-lock.json, newer than the lock file it installed.
func npmCI(dir string) error {
	lock, err := os.Stat(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	if inst, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err == nil && !inst.ModTime().Before(lock.ModTime()) {
		return nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is not installed (apt-get install -y npm): %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("npm ci: %w\n%s", err, out.Bytes())
	}
	return nil
}
