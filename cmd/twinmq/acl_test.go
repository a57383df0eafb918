package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker/auth"
)

// serveConfigForTest runs `twinmq serve` with cfg until the test ends
// and returns its logs once it serves.
func serveConfigForTest(t *testing.T, cfg Config) *syncBuffer {
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
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "msg=serving"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 10 s:\n%s", logs)
		}
	}
	return logs
}

// TestACLCommands drives `twinmq acl create|list|delete` against a broker
// with --authorizer-enable, connecting as User:ANONYMOUS (PLAINTEXT),
// whose only ACLs at start let it manage ACLs (Alter and Describe on the
// cluster, written to the data directory before the start).
func TestACLCommands(t *testing.T) {
	cfg := testConfig(t, func(c *Config) { c.AuthorizerEnable = true })
	az, err := auth.OpenAuthorizer(cfg.DataDir, auth.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []auth.Operation{auth.OpAlter, auth.OpDescribe} {
		if _, err := az.Create([]auth.ACL{{Resource: auth.ResourceCluster, Name: auth.ClusterName, Pattern: auth.PatternLiteral,
			Principal: auth.Anonymous, Host: "*", Operation: op, Permission: auth.PermissionAllow}}); err != nil {
			t.Fatal(err)
		}
	}
	logs := serveConfigForTest(t, cfg)
	bs := "--bootstrap-server=" + listenAddr(t, logs, "Kafka")

	// Creating a topic needs Create: refused, then granted.
	if out, err := twinmqCmd(t, "topic", "create", "orders", bs); err == nil || !strings.Contains(out+err.Error(), "TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("topic create without Create: %v\n%s", err, out)
	}
	out := mustCmd(t, "acl", "create", bs, "--allow-principal", "User:ANONYMOUS", "--operation", "Create", "--cluster")
	if !strings.Contains(out, "created ALLOW User:ANONYMOUS CREATE from * on CLUSTER:kafka-cluster") {
		t.Errorf("acl create output:\n%s", out)
	}
	mustCmd(t, "topic", "create", "orders", bs)
	mustCmd(t, "acl", "create", bs, "--allow-principal", "User:ANONYMOUS", "--operation", "Write", "--operation", "Describe",
		"--topic", "ord", "--resource-pattern-type", "prefixed")

	out = mustCmd(t, "acl", "list", bs)
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("acl list: %d lines, want 5:\n%s", n, out)
	}
	out = mustCmd(t, "acl", "list", bs, "--topic", "ord", "--format", "json")
	if strings.Count(out, `"principal": "User:ANONYMOUS"`) != 2 || !strings.Contains(out, `"patternType": "PREFIXED"`) {
		t.Errorf("acl list --topic ord --format json:\n%s", out)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.TrimPrefix(bs, "--bootstrap-server=")), kgo.DisableIdempotentWrite(),
		kgo.RetryTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce with Write on prefix ord: %v", err)
	}

	out = mustCmd(t, "acl", "delete", bs, "--allow-principal", "User:ANONYMOUS", "--operation", "Write", "--topic", "ord",
		"--resource-pattern-type", "prefixed")
	if !strings.Contains(out, "deleted ALLOW User:ANONYMOUS WRITE from * on TOPIC:ord (PREFIXED)") || strings.Count(out, "\n") != 1 {
		t.Errorf("acl delete output:\n%s", out)
	}
	err = cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("produce after the delete: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}

	// Flags kafka-acls would refuse.
	for _, args := range [][]string{
		{"acl", "create", bs, "--allow-principal", "User:x", "--operation", "Read"},                                                   // no resource
		{"acl", "create", bs, "--topic", "t", "--operation", "Read"},                                                                  // no principal
		{"acl", "create", bs, "--allow-principal", "x", "--topic", "t", "--operation", "Read"},                                        // not Type:name
		{"acl", "create", bs, "--allow-principal", "User:x", "--topic", "t", "--operation", "Fly"},                                    // no such operation
		{"acl", "create", bs, "--allow-principal", "User:x", "--topic", "t", "--operation", "Read", "--resource-pattern-type", "any"}, // not storable
	} {
		if out, err := twinmqCmd(t, args...); err == nil {
			t.Errorf("twinmq %s succeeded:\n%s", strings.Join(args, " "), out)
		}
	}
}

// TestACLAKCommands: `twinmq acl ak create` on the data directory before
// the start makes an account whose signed rocketmq-client-go sends pass
// where its --topic-perm allows and fail elsewhere, and whose permissions
// `twinmq acl list` shows as ACLs of User:<name>.
func TestACLAKCommands(t *testing.T) {
	cfg := testConfig(t, func(c *Config) {
		c.AuthorizerEnable, c.ACLEnable, c.SuperUsers = true, true, "User:ANONYMOUS"
	})
	dd := "--data-dir=" + cfg.DataDir
	out := mustCmd(t, "acl", "ak", "create", "alice", "--secret-key", "alice-secret", "--access-key", "alice-ak",
		"--topic-perm", "akt=PUB", dd)
	if !strings.Contains(out, "account alice (principal User:alice, accessKey alice-ak)") {
		t.Errorf("ak create:\n%s", out)
	}
	mustCmd(t, "acl", "ak", "create", "opsadmin", "--secret-key", "root-secret", "--admin", dd)
	if _, err := twinmqCmd(t, "acl", "ak", "create", "bob", "--secret-key", "x", dd); err == nil {
		t.Error("a 1-character secret key was accepted")
	}
	if out := mustCmd(t, "acl", "ak", "list", dd); !strings.Contains(out, "alice\taccessKey=alice-ak\tadmin=false") || strings.Contains(out, "alice-secret") {
		t.Errorf("ak list (no secrets):\n%s", out)
	}
	logs := serveConfigForTest(t, cfg)
	bs := "--bootstrap-server=" + listenAddr(t, logs, "Kafka")
	mustCmd(t, "topic", "create", "akt", bs) // ANONYMOUS is a super user
	mustCmd(t, "topic", "create", "other", bs)
	if out := mustCmd(t, "acl", "list", bs, "--principal", "User:alice"); !strings.Contains(out, "ALLOW User:alice WRITE from * on TOPIC:akt (LITERAL)") {
		t.Errorf("acl list --principal User:alice:\n%s", out)
	}

	rlog.SetLogLevel("error")
	ns := primitive.NewPassthroughResolver([]string{listenAddr(t, logs, "name server")})
	p, err := rocketmq.NewProducer(producer.WithNsResolver(ns), producer.WithGroupName("ak_pg"), producer.WithRetry(1),
		producer.WithCredentials(primitive.Credentials{AccessKey: "alice-ak", SecretKey: "alice-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The topic's route reaches the name server with the broker's next
	// registration after the create: retry while the route is missing.
	for {
		_, err := p.SendSync(ctx, primitive.NewMessage("akt", []byte("signed")))
		if err == nil {
			break
		}
		if ctx.Err() != nil || strings.Contains(err.Error(), "no permission") {
			t.Fatalf("alice to akt: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := p.SendSync(ctx, primitive.NewMessage("other", []byte("x"))); err == nil || !strings.Contains(err.Error(), "CODE: 16") {
		t.Errorf("alice to other: %v, want NO_PERMISSION", err)
	}
	if !strings.Contains(logs.String(), "RocketMQ 5 gRPC listener off") {
		t.Error("the gRPC listener runs with aclEnable")
	}

	// Online: UPDATE_AND_CREATE_ACL_CONFIG signed by the admin account
	// creates bob, who may then send to other; alice (no admin) may not
	// create accounts; DELETE_ACL_CONFIG removes bob.
	ba := "--broker-addr=" + listenAddr(t, logs, "RocketMQ remoting")
	if out, err := twinmqCmd(t, "acl", "ak", "create", "bob-ak", "--secret-key", "bob-secret", "--topic-perm", "other=PUB", ba,
		"--admin-access-key", "alice-ak", "--admin-secret-key", "alice-secret"); err == nil || !strings.Contains(err.Error(), "NO_PERMISSION") {
		t.Errorf("alice creating an account: %v\n%s", err, out)
	}
	mustCmd(t, "acl", "ak", "create", "bob-ak", "--secret-key", "bob-secret", "--topic-perm", "other=PUB", ba,
		"--admin-access-key", "opsadmin", "--admin-secret-key", "root-secret")
	bob, err := rocketmq.NewProducer(producer.WithNsResolver(ns), producer.WithGroupName("ak_bob"), producer.WithRetry(1),
		producer.WithInstanceName("bob"), producer.WithCredentials(primitive.Credentials{AccessKey: "bob-ak", SecretKey: "bob-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := bob.Start(); err != nil {
		t.Fatal(err)
	}
	defer bob.Shutdown()
	if _, err := bob.SendSync(ctx, primitive.NewMessage("other", []byte("bob"))); err != nil {
		t.Errorf("bob to other: %v", err)
	}
	mustCmd(t, "acl", "ak", "delete", "bob-ak", ba, "--admin-access-key", "opsadmin", "--admin-secret-key", "root-secret")
	if _, err := bob.SendSync(ctx, primitive.NewMessage("other", []byte("bob"))); err == nil || !strings.Contains(err.Error(), "unknown AccessKey") {
		t.Errorf("bob after his account's deletion: %v", err)
	}
}
