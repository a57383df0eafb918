package main

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/twinmq/twinmq/internal/testcerts"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
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
		{func(c *Config) { c.Listeners = "SSL://:9093" }, "need tlsCertFile and tlsKeyFile"},
		{func(c *Config) { c.TLSMode = "enforcing" }, "need tlsCertFile and tlsKeyFile"},
		{func(c *Config) { c.TLSMode = "strict" }, "tlsMode \"strict\""},
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
	logs := serveConfig(t, cfg)
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

// serveConfig runs serve with cfg until the test ends and returns its logs.
func serveConfig(t *testing.T, cfg Config) *syncBuffer {
	t.Helper()
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
	return logs
}

// TestRocketMQTLSModes: with tlsMode enforcing, rocketmq-client-go with
// WithTls(true) sends through the name server and the broker (which
// registered over TLS) and a plaintext client cannot; with permissive,
// both send.
func TestRocketMQTLSModes(t *testing.T) {
	rlog.SetLogLevel("fatal")
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile, err := ca.Files(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	send := func(nsAddr string, useTLS bool, topic string, attempts int) error {
		p, err := rocketmq.NewProducer(producer.WithNsResolver(primitive.NewPassthroughResolver([]string{nsAddr})),
			producer.WithGroupName("tlspg"), producer.WithTls(useTLS), producer.WithRetry(1),
			producer.WithSendMsgTimeout(5*time.Second), producer.WithInstanceName(fmt.Sprintf("tls-%v-%s", useTLS, topic)))
		if err != nil {
			return err
		}
		if err := p.Start(); err != nil {
			return err
		}
		defer func() { _ = p.Shutdown() }()
		var last error
		for range attempts { // the first sends may miss the route of the new topic
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("over tls")))
			cancel()
			if err == nil && res.Status == primitive.SendOK {
				return nil
			}
			last = err
			time.Sleep(100 * time.Millisecond)
		}
		return fmt.Errorf("no SEND_OK: %v", last)
	}
	for _, mode := range []string{tlsEnforcing, tlsPermissive} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t, func(c *Config) {
				c.TLSMode, c.TLSCertFile, c.TLSKeyFile, c.TLSCAFile = mode, certFile, keyFile, caFile
			})
			logs := serveConfig(t, cfg)
			nsAddr := listenAddr(t, logs, "name server")
			if err := send(nsAddr, true, "tls-"+mode, 20); err != nil {
				t.Fatalf("TLS client: %v\n%s", err, logs)
			}
			if mode == tlsPermissive {
				if err := send(nsAddr, false, "plain-"+mode, 20); err != nil {
					t.Fatalf("plaintext client in permissive mode: %v", err)
				}
				return
			}
			// Enforcing: a plaintext request (GET_ROUTEINFO_BY_TOPIC, as
			// clients send first) gets no answer, from either port.
			rmqAddr := listenAddr(t, logs, "RocketMQ remoting")
			for _, addr := range []string{nsAddr, rmqAddr} {
				c, err := nameserver.Dial(t.Context(), addr)
				if err != nil {
					continue // refused: fine
				}
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				resp, err := c.Invoke(ctx, routeRequest("tls-"+mode))
				cancel()
				_ = c.Close()
				if err == nil {
					t.Fatalf("%s answered a plaintext request in enforcing mode: %d", addr, resp.Code)
				}
			}
			// And the TLS client of the name server gets the route.
			c, err := nameserver.DialTLS(t.Context(), nsAddr, ca.ClientConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, err := c.Invoke(t.Context(), routeRequest("tls-"+mode))
			if err != nil || resp.Code != remoting.Success {
				t.Fatalf("route over TLS: %v %+v", err, resp)
			}
		})
	}
}

// routeRequest is GET_ROUTEINFO_BY_TOPIC for topic.
func routeRequest(topic string) *remoting.Command {
	req := remoting.NewRequest(remoting.GetRouteinfoByTopic, 0)
	req.ExtFields["topic"] = topic
	return req
}
