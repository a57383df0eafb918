package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestRegistrationSecretSetting: registrationSecret comes from the flag of
// namesrv, broker and serve, and from TWINMQ_REGISTRATION_SECRET.
func TestRegistrationSecretSetting(t *testing.T) {
	for name, add := range map[string]func(*pflag.FlagSet){"namesrv": addNamesrvFlags, "broker": addBrokerFlags, "serve": addServeFlags} {
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		add(fs)
		if err := fs.Parse([]string{"--registration-secret", "from-flag"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cfg, err := loadConfig("", fs, nil)
		if err != nil || cfg.RegistrationSecret != "from-flag" {
			t.Fatalf("%s: %q %v", name, cfg.RegistrationSecret, err)
		}
	}
	cfg, err := loadConfig("", nil, []string{"TWINMQ_REGISTRATION_SECRET=from-env"})
	if err != nil || cfg.RegistrationSecret != "from-env" {
		t.Fatalf("env: %q %v", cfg.RegistrationSecret, err)
	}
}

// TestBrokerRegistersWithSecret: `twinmq namesrv` with a registration
// secret lists a `twinmq broker` started with the same secret, and not one
// started with another, which logs the name server's NO_PERMISSION.
func TestBrokerRegistersWithSecret(t *testing.T) {
	nsCfg := testConfig(t, func(c *Config) { c.NamesrvListen, c.RegistrationSecret = freeAddr(t), "s3cret" })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runNamesrv(ctx, nsCfg, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	good, goodLogs := startSecretBroker(t, nsCfg.NamesrvListen, "b1", "s3cret")
	groups := func() map[string]nameserver.BrokerData {
		cctx, ccancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer ccancel()
		cl, err := nameserver.Dial(cctx, nsCfg.NamesrvListen)
		if err != nil {
			return nil // not listening yet
		}
		defer cl.Close()
		resp, err := cl.Invoke(cctx, remoting.NewRequest(remoting.GetBrokerClusterInfo, 0))
		if err != nil {
			return nil
		}
		var ci nameserver.ClusterInfo
		if err := json.Unmarshal(resp.Body, &ci); err != nil {
			t.Fatal(err)
		}
		return ci.BrokerAddrTable
	}
	// b2 starts once b1 runs: its free ports are picked while b1 binds
	// none (b1's ":0" listeners could take them otherwise).
	deadline := time.Now().Add(30 * time.Second)
	for groups()["b1"].BrokerName == "" {
		if time.Now().After(deadline) {
			t.Fatalf("b1 never registered; its logs:\n%s", goodLogs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bad, badLogs := startSecretBroker(t, nsCfg.NamesrvListen, "b2", "guess")
	for !strings.Contains(badLogs.String(), "name server refused registration") || groups()["b1"].BrokerName == "" {
		if time.Now().After(deadline) {
			t.Fatalf("b1 registered: %v; b2's logs:\n%s\nb1's logs:\n%s", groups(), badLogs, goodLogs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g := groups(); len(g) != 1 {
		t.Fatalf("groups %v, want b1 alone", g)
	}
	if !strings.Contains(badLogs.String(), "code=16") {
		t.Fatalf("b2's logs:\n%s", badLogs)
	}
	good()
	bad()
}

// startSecretBroker runs `twinmq broker` as the master of group name,
// registering with nsAddr signed with secret; it returns its stop function
// and its logs.
func startSecretBroker(t *testing.T, nsAddr, name, secret string) (func(), *syncBuffer) {
	t.Helper()
	cfg := testConfig(t, func(c *Config) {
		c.BrokerName, c.NamesrvAddr, c.RegistrationSecret = name, nsAddr, secret
		c.HAAddr, c.RemotingAddr, c.GRPCAddr = freeAddr(t), freeAddr(t), "127.0.0.1:0"
	})
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- runBroker(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker %s: %v", name, err)
		}
	})
	t.Cleanup(stop)
	return stop, logs
}
