package compattests

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/wire/remoting"
)

// aclAccounts are the RocketMQ accounts of the ACL tests: alice may
// publish and subscribe AclOrders with group acl_cg, is denied AclSecret,
// and has nothing on AclOther; root is an admin.
func aclAccounts(t *testing.T) func(*auth.Authorizer, *auth.Accounts) {
	return func(az *auth.Authorizer, accs *auth.Accounts) {
		for _, a := range []auth.Account{
			{Name: "alice", AccessKey: "alice-ak", SecretKey: "alice-secret"},
			{Name: "root", AccessKey: "root-ak", SecretKey: "root-secret", Admin: true},
		} {
			if err := accs.Put(a); err != nil {
				t.Fatal(err)
			}
		}
		acls, err := auth.PermACLs(auth.User("alice"), []string{"AclOrders=PUB|SUB", "AclSecret=DENY"}, []string{"acl_cg=SUB"}, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := az.Create(acls); err != nil {
			t.Fatal(err)
		}
	}
}

// signedCall sends a request signed by (ak, sk) as the clients sign it.
func signedCall(t *testing.T, addr string, code int32, ak, sk string, ext map[string]string, body []byte) *remoting.Command {
	t.Helper()
	f := map[string]string{auth.FieldAccessKey: ak}
	for k, v := range ext {
		f[k] = v
	}
	f[auth.FieldSignature] = auth.Sign(f, body, sk)
	return rawCall(t, addr, code, f, body)
}

// TestACLRocketMQClientGo: rocketmq-client-go with primitive.Credentials.
// The right secret sends and consumes where the account may; a wrong
// secret, a denied topic and a topic without an ACL get NO_PERMISSION
// (16); the admin request DELETE_TOPIC_IN_BROKER needs the admin account.
func TestACLRocketMQClientGo(t *testing.T) {
	c := startACLCluster(t, auth.Policy{}, aclAccounts(t))
	for _, topic := range []string{"AclOrders", "AclOther", "AclSecret"} {
		c.createTopic(t, topic)
	}
	rc := c.rmq()
	alice := primitive.Credentials{AccessKey: "alice-ak", SecretKey: "alice-secret"}
	p := rc.producer(t, producer.WithCredentials(alice))
	sent := sendN(t, p, "AclOrders", "TagA", 0, 5)
	if len(sent) != 5 {
		t.Fatalf("sent %d", len(sent))
	}
	for _, topic := range []string{"AclOther", "AclSecret"} {
		_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("x")))
		if err == nil || !strings.Contains(err.Error(), "no permission") {
			t.Errorf("alice to %s: %v, want NO_PERMISSION", topic, err)
		}
	}
	wrong := rc.producer(t, producer.WithCredentials(primitive.Credentials{AccessKey: "alice-ak", SecretKey: "not-her-secret"}),
		producer.WithGroupName("pg_wrong"), producer.WithInstanceName(instance(t)+"-wrong"))
	_, err := wrong.SendSync(context.Background(), primitive.NewMessage("AclOrders", []byte("x")))
	if err == nil || !strings.Contains(err.Error(), "signature check failed") {
		t.Errorf("wrong secret: %v, want NO_PERMISSION (signature check failed)", err)
	}

	col := newCollector()
	pc := rc.pushConsumer(t, "acl_cg", consumer.WithCredentials(alice))
	if err := pc.Subscribe("AclOrders", consumer.MessageSelector{}, col.handler); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.Shutdown() }()
	waitFor(t, 30*time.Second, func() bool { return col.n.Load() >= 5 })

	// Raw signed requests: the exact code, and what the admin may do.
	pull := map[string]string{"consumerGroup": "other_cg", "topic": "AclOrders", "queueId": "0", "queueOffset": "0",
		"maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0"}
	if r := signedCall(t, c.brokerAddr, remoting.PullMessage, "alice-ak", "alice-secret", pull, nil); r.Code != remoting.NoPermission {
		t.Errorf("pull with a group without an ACL: %d %s", r.Code, r.Remark)
	}
	if r := rawCall(t, c.brokerAddr, remoting.GetMaxOffset, map[string]string{"topic": "AclOrders", "queueId": "0"}, nil); r.Code != remoting.NoPermission {
		t.Errorf("unsigned request: %d %s", r.Code, r.Remark)
	}
	del := map[string]string{"topic": "AclOther"}
	if r := signedCall(t, c.brokerAddr, remoting.DeleteTopicInBroker, "alice-ak", "alice-secret", del, nil); r.Code != remoting.NoPermission {
		t.Errorf("alice deleting a topic: %d %s", r.Code, r.Remark)
	}
	if _, ok := c.reg.Get("AclOther"); !ok {
		t.Fatal("AclOther deleted by a refused request")
	}
	if r := signedCall(t, c.brokerAddr, remoting.DeleteTopicInBroker, "root-ak", "root-secret", del, nil); r.Code != remoting.Success {
		t.Errorf("root deleting a topic: %d %s", r.Code, r.Remark)
	}
}

// TestACLOnePrincipalBothProtocols: the RocketMQ account named ANONYMOUS is
// the principal User:ANONYMOUS, which every Kafka connection on a
// PLAINTEXT listener is: the ACLs its RocketMQ permissions made allow and
// deny the same topics to franz-go and sarama as to rocketmq-client-go;
// Kafka's DescribeAcls lists them; and an ACL deleted through Kafka's
// DeleteAcls stops the RocketMQ sends it allowed.
func TestACLOnePrincipalBothProtocols(t *testing.T) {
	c := startACLCluster(t, auth.Policy{}, func(az *auth.Authorizer, accs *auth.Accounts) {
		if err := accs.Put(auth.Account{Name: "ANONYMOUS", AccessKey: "anon-ak", SecretKey: "anon-secret"}); err != nil {
			t.Fatal(err)
		}
		acls, err := auth.PermACLs(auth.Anonymous, []string{"AclBoth=PUB|SUB"}, nil, "", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range []auth.Operation{auth.OpAlter, auth.OpDescribe} { // to manage ACLs over Kafka
			acls = append(acls, auth.ACL{Resource: auth.ResourceCluster, Name: auth.ClusterName, Pattern: auth.PatternLiteral,
				Principal: auth.Anonymous, Host: "*", Operation: op, Permission: auth.PermissionAllow})
		}
		if _, err := az.Create(acls); err != nil {
			t.Fatal(err)
		}
	})
	c.createTopic(t, "AclBoth")
	c.createTopic(t, "AclNope")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// RocketMQ.
	p := c.rmq().producer(t, producer.WithCredentials(primitive.Credentials{AccessKey: "anon-ak", SecretKey: "anon-secret"}))
	sendN(t, p, "AclBoth", "TagA", 0, 2)
	if _, err := p.SendSync(ctx, primitive.NewMessage("AclNope", []byte("x"))); err == nil {
		t.Error("rocketmq to AclNope: allowed")
	}

	// franz-go.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr), kgo.DisableIdempotentWrite(), kgo.RetryTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "AclBoth", Value: []byte("k")}).FirstErr(); err != nil {
		t.Errorf("franz-go to AclBoth: %v", err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "AclNope", Value: []byte("k")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("franz-go to AclNope: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	// The RocketMQ and Kafka records are read back by a Kafka consumer.
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddr), kgo.ConsumeTopics("AclBoth"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := 0
	for got < 3 && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("consume AclBoth: %v", errs)
		}
		got += fs.NumRecords()
	}
	if got != 3 {
		t.Errorf("consumed %d of AclBoth's 3 records", got)
	}

	// sarama.
	cfg := saramaConfig(sarama.MaxVersion, sarama.WaitForLocal, sarama.CompressionNone)
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.Producer.Retry.Max = 0
	sp, err := sarama.NewSyncProducer([]string{c.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: "AclBoth", Value: sarama.StringEncoder("s")}); err != nil {
		t.Errorf("sarama to AclBoth: %v", err)
	}
	if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: "AclNope", Value: sarama.StringEncoder("s")}); !errors.Is(err, sarama.ErrTopicAuthorizationFailed) {
		t.Errorf("sarama to AclNope: %v, want ErrTopicAuthorizationFailed", err)
	}

	// sarama's consumer group on a group without an ACL.
	gcfg := saramaConfig(sarama.MaxVersion, sarama.WaitForLocal, sarama.CompressionNone)
	gcfg.Consumer.Group.Rebalance.Retry.Max = 0 // the refusal is not retriable: no 4 x 2 s of retries
	gcfg.Metadata.Retry.Max = 0
	cg, err := sarama.NewConsumerGroup([]string{c.kafkaAddr}, "acl_no_group", gcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	if err := cg.Consume(ctx, []string{"AclBoth"}, nopGroupHandler{}); !errors.Is(err, sarama.ErrGroupAuthorizationFailed) {
		t.Errorf("sarama joining acl_no_group: %v, want ErrGroupAuthorizationFailed", err)
	}

	// kcat: the metadata shows only the topic it may describe, and a
	// produce to the other is refused.
	if kcat, err := exec.LookPath("kcat"); err == nil {
		out, err := exec.CommandContext(ctx, kcat, "-b", c.kafkaAddr, "-L", "-J").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat -L: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), `"topic":"AclBoth"`) || strings.Contains(string(out), "AclNope") {
			t.Errorf("kcat -L shows:\n%s", out)
		}
		cmd := exec.CommandContext(ctx, kcat, "-b", c.kafkaAddr, "-P", "-t", "AclNope", "-X", "message.timeout.ms=5000")
		cmd.Stdin = strings.NewReader("refused\n")
		out, err = cmd.CombinedOutput()
		if !strings.Contains(string(out), "Topic authorization failed") {
			t.Errorf("kcat -P to AclNope: %v\n%s", err, out)
		}
	} else {
		t.Error("kcat is not installed (apt-get install -y kcat)")
	}

	// One set: Kafka's DescribeAcls lists the ACLs the RocketMQ
	// permissions made, and deleting Write through Kafka stops RocketMQ.
	adm := kadm.NewClient(cl)
	desc, err := adm.DescribeACLs(ctx, kadm.NewACLs().Topics("AclBoth").Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, d := range desc {
		for _, a := range d.Described {
			ops = append(ops, fmt.Sprint(a.Principal, " ", a.Operation))
		}
	}
	slices.Sort(ops)
	if !slices.Equal(ops, []string{"User:ANONYMOUS READ", "User:ANONYMOUS WRITE"}) {
		t.Errorf("DescribeAcls on AclBoth: %v", ops)
	}
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics("AclBoth").Allow("User:ANONYMOUS").AllowHosts().
		Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.SendSync(ctx, primitive.NewMessage("AclBoth", []byte("x"))); err == nil || !strings.Contains(err.Error(), "no permission") {
		t.Errorf("rocketmq to AclBoth after Kafka's DeleteAcls: %v, want NO_PERMISSION", err)
	}
}

// nopGroupHandler is a sarama consumer group handler that consumes nothing.
type nopGroupHandler struct{}

func (nopGroupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (nopGroupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (nopGroupHandler) ConsumeClaim(sarama.ConsumerGroupSession, sarama.ConsumerGroupClaim) error {
	return nil
}
