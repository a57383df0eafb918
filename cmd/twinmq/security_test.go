package main

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/internal/testcerts"
)

// TestListenerConfig: listeners parse as Kafka writes them, custom names
// need the protocol map, and TLS listeners need a certificate.
func TestListenerConfig(t *testing.T) {
	c := defaultConfig()
	c.Listeners = "PLAINTEXT://127.0.0.1:9092, SASL_SSL://127.0.0.1:9093,client://:9094"
	c.ListenerSecurityProtocolMap = "CLIENT:SASL_PLAINTEXT"
	c.AdvertisedListeners = "SASL_SSL://broker1.example:19093"
	ls, err := c.kafkaListeners()
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, l := range ls {
		got = append(got, l.name+"="+string(l.proto)+"@"+l.addr+">"+l.advertise)
	}
	want := "PLAINTEXT=PLAINTEXT@127.0.0.1:9092> SASL_SSL=SASL_SSL@127.0.0.1:9093>broker1.example:19093 CLIENT=SASL_PLAINTEXT@:9094>"
	if strings.Join(got, " ") != want {
		t.Fatalf("listeners\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Listeners = "CLIENT://:9094" }, "no security protocol for listener name CLIENT"},
		{func(c *Config) { c.Listeners = "SSL://:9093" }, "needs tlsCertFile and tlsKeyFile"},
		{func(c *Config) { c.Listeners = "PLAINTEXT://:1,PLAINTEXT://:2" }, "PLAINTEXT twice"},
		{func(c *Config) { c.AdvertisedListeners = "SSL://h:1" }, "names no listener"},
		{func(c *Config) { c.TLSClientAuth = "maybe" }, "tlsClientAuth"},
		{func(c *Config) { c.SASLEnabledMechanisms = "GSSAPI" }, "unknown mechanism"},
	} {
		c := defaultConfig()
		tc.edit(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("validate: %v, want %q", err, tc.want)
		}
	}
}

// TestSecuredAdminCommands: a user created offline before the first start
// logs in over SASL_SSL; admin commands reach the SASL_SSL listener with
// --user, --password and --tls-ca-file; `twinmq user create` online adds
// a user who can then log in; a wrong password fails; the PLAINTEXT
// listener keeps working beside it.
func TestSecuredAdminCommands(t *testing.T) {
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile, err := ca.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, func(c *Config) {
		c.Listeners = "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		c.TLSCertFile, c.TLSKeyFile = certFile, keyFile
	})
	if out, err := twinmqCmd(t, "user", "create", "admin", "--password", "admin-pw", "--data-dir", cfg.DataDir); err != nil {
		t.Fatalf("offline create: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, "user", "list", "--data-dir", cfg.DataDir); err != nil || !strings.Contains(out, "admin  SCRAM-SHA-256  8192") {
		t.Fatalf("offline list: %v\n%s", err, out)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	re := regexp.MustCompile(`msg="Kafka listening" addr=(\S+) advertised=\S+ listener=SASL_SSL`)
	var secure string
	for deadline := time.Now().Add(10 * time.Second); secure == ""; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			secure = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no SASL_SSL listener:\n%s", logs)
		}
	}
	plain := listenAddr(t, logs, "Kafka")
	as := []string{"--bootstrap-server", secure, "--tls-ca-file", caFile, "--user", "admin"}
	if out, err := twinmqCmd(t, append([]string{"topic", "create", "secured", "--partitions", "2", "--password", "admin-pw"}, as...)...); err != nil {
		t.Fatalf("topic create over SASL_SSL: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, append([]string{"topic", "list", "--password", "admin-pw", "--sasl-mechanism", "PLAIN"}, as...)...); err != nil || !strings.Contains(out, "secured") {
		t.Fatalf("topic list over SASL_SSL/PLAIN: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, append([]string{"topic", "list", "--password", "nope"}, as...)...); err == nil || !strings.Contains(out+err.Error(), "SASL_AUTHENTICATION_FAILED") {
		t.Fatalf("wrong password: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, append([]string{"user", "create", "bob", "--password", "bob-pw", "--mechanism", "SCRAM-SHA-512", "--admin-password", "admin-pw"}, as...)...); err != nil {
		t.Fatalf("online create: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, "topic", "list", "--bootstrap-server", secure, "--tls-ca-file", caFile, "--user", "bob", "--password", "bob-pw", "--sasl-mechanism", "SCRAM-SHA-512"); err != nil || !strings.Contains(out, "secured") {
		t.Fatalf("bob's topic list: %v\n%s", err, out)
	}
	out, err := twinmqCmd(t, "user", "list", "--bootstrap-server", plain, "--format", "json")
	if err != nil || !strings.Contains(out, `"user": "bob"`) || !strings.Contains(out, `"mechanism": "SCRAM-SHA-512"`) {
		t.Fatalf("online list over PLAINTEXT: %v\n%s", err, out)
	}
	if out, err := twinmqCmd(t, append([]string{"user", "delete", "bob", "--admin-password", "admin-pw"}, as...)...); err != nil {
		t.Fatalf("online delete: %v\n%s", err, out)
	}
	if _, err := twinmqCmd(t, "topic", "list", "--bootstrap-server", secure, "--tls-ca-file", caFile, "--user", "bob", "--password", "bob-pw", "--sasl-mechanism", "SCRAM-SHA-512"); err == nil {
		t.Fatal("deleted bob still logs in")
	}
}
