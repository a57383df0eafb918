package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/controller"
)

// TestNamesrvController: `twinmq namesrv --enable-controller-in-namesrv`
// with a one-node raft group answers a broker's registration on the name
// server's port and keeps its raft state in <data-dir>/controller.
func TestNamesrvController(t *testing.T) {
	fs := pflag.NewFlagSet("namesrv", pflag.ContinueOnError)
	addNamesrvFlags(fs)
	dir, nsAddr := t.TempDir(), freeAddr(t)
	if err := fs.Parse([]string{"--namesrv-listen", nsAddr, "--data-dir", dir, "--enable-controller-in-namesrv",
		"--controller-peers", "n0-" + freeAddr(t), "--controller-self-id", "n0", "--broker-heartbeat-timeout-ms", "3000"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig("", fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.EnableControllerInNamesrv || cfg.BrokerHeartbeatTimeoutMs != 3000 {
		t.Fatalf("config %+v", cfg)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runNamesrv(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	cli, err := controller.NewClient(nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	reg, err := cli.Register(rctx, "C", "b1", "127.0.0.1:10911", 0)
	if err != nil || reg.BrokerID != 1 {
		t.Fatalf("register %+v %v", reg, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "controller", "raft.db")); len(m) != 1 {
		t.Fatal("no raft.db under <data-dir>/controller")
	}
}

func TestControllerConfigValidation(t *testing.T) {
	cases := []struct {
		peers, self string
		ok          bool
	}{
		{"n0-127.0.0.1:9878;n1-127.0.0.2:9878", "n1", true},
		{"n0-127.0.0.1:9878", "n1", false},
		{"n0:127.0.0.1:9878", "n0", false},
		{"", "n0", false},
	}
	for _, c := range cases {
		cfg := defaultConfig()
		cfg.EnableControllerInNamesrv, cfg.ControllerPeers, cfg.ControllerSelfID = true, c.peers, c.self
		if err := cfg.validate(); (err == nil) != c.ok {
			t.Errorf("%q %q: %v", c.peers, c.self, err)
		}
	}
}
