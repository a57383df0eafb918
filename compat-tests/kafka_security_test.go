package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	xdg "github.com/xdg-go/scram"

	"github.com/twinmq/twinmq/broker/kafkaapi"
)

// kcatRun runs kcat with args (and stdin), bounded.
func kcatRun(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat not found (apt-get install -y kcat): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

// TestSecurityKcat runs kcat (librdkafka 2.0) exactly as the README says:
// -L over SASL_SSL with SCRAM-SHA-256 lists the broker at the SASL_SSL
// port; produce and consume over SASL_SSL with SCRAM-SHA-512 and over
// SASL_PLAINTEXT with PLAIN; over SSL with a client certificate; a wrong
// password gets nothing.
func TestSecurityKcat(t *testing.T) {
	sk := startSecureKafka(t)
	ssl := sk.addr[kafkaapi.SASLSSL]
	out, err := kcatRun(t, "", "-b", ssl, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-256",
		"-X", "sasl.username="+secUser, "-X", "sasl.password="+secPassword, "-X", "ssl.ca.location="+sk.caPEM, "-L")
	if err != nil || !strings.Contains(out, "at "+ssl) {
		t.Fatalf("kcat -L over SASL_SSL: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"SASL_SSL/SCRAM-SHA-512", []string{"-b", ssl, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-512",
			"-X", "sasl.username=" + secUser, "-X", "sasl.password=" + secPassword, "-X", "ssl.ca.location=" + sk.caPEM}},
		{"SASL_PLAINTEXT/PLAIN", []string{"-b", sk.addr[kafkaapi.SASLPlaintext], "-X", "security.protocol=SASL_PLAINTEXT",
			"-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=" + secUser, "-X", "sasl.password=" + secPassword}},
		{"SSL/client-certificate", []string{"-b", sk.addr[kafkaapi.SSL], "-X", "security.protocol=SSL", "-X", "ssl.ca.location=" + sk.caPEM,
			"-X", "ssl.certificate.location=" + sk.clientCert, "-X", "ssl.key.location=" + sk.clientKey}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "kcat-sec")
			createTopic(t, sk.addr[kafkaapi.Plaintext], topic, 1, nil)
			if out, err := kcatRun(t, "one\ntwo\n", append(tc.args, "-P", "-t", topic)...); err != nil {
				t.Fatalf("kcat -P: %v\n%s", err, out)
			}
			out, err := kcatRun(t, "", append(tc.args, "-C", "-t", topic, "-o", "beginning", "-c", "2", "-e")...)
			if err != nil || out != "one\ntwo\n" {
				t.Fatalf("kcat -C: %v\n%q", err, out)
			}
		})
	}
	out, err = kcatRun(t, "", "-b", ssl, "-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-256",
		"-X", "sasl.username="+secUser, "-X", "sasl.password=wrong", "-X", "ssl.ca.location="+sk.caPEM, "-L", "-m", "2")
	if err == nil || !strings.Contains(out, "SASL authentication error") {
		t.Fatalf("kcat with a wrong password: %v\n%s", err, out)
	}
}

func saramaSecure(sk *secureKafka, mech sarama.SASLMechanism, password string) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.Producer.Return.Successes = true
	cfg.Net.SASL.Enable, cfg.Net.SASL.Handshake = true, true
	cfg.Net.SASL.User, cfg.Net.SASL.Password, cfg.Net.SASL.Mechanism = secUser, password, mech
	switch mech {
	case sarama.SASLTypeSCRAMSHA256:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAMClient{hash: xdg.SHA256} }
	case sarama.SASLTypeSCRAMSHA512:
		cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &xdgSCRAMClient{hash: xdg.SHA512} }
	}
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, sk.ca.ClientConfig()
	cfg.Metadata.Retry.Max = 0
	return cfg
}

// TestSecuritySarama: sarama produces and consumes over SASL_SSL with
// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN; a wrong password gets
// SASL_AUTHENTICATION_FAILED.
func TestSecuritySarama(t *testing.T) {
	sk := startSecureKafka(t)
	for _, mech := range []sarama.SASLMechanism{sarama.SASLTypeSCRAMSHA256, sarama.SASLTypeSCRAMSHA512, sarama.SASLTypePlaintext} {
		t.Run(string(mech), func(t *testing.T) {
			topic := kafkaTopicName(t, "sarama-sec")
			createTopic(t, sk.addr[kafkaapi.Plaintext], topic, 1, nil)
			cl, err := sarama.NewClient([]string{sk.addr[kafkaapi.SASLSSL]}, saramaSecure(sk, mech, secPassword))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			p, err := sarama.NewSyncProducerFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("via " + mech)}); err != nil {
				t.Fatalf("send: %v", err)
			}
			c, err := sarama.NewConsumerFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			select {
			case m := <-pc.Messages():
				if string(m.Value) != "via "+string(mech) {
					t.Fatalf("got %q", m.Value)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no message")
			}
		})
	}
	_, err := sarama.NewClient([]string{sk.addr[kafkaapi.SASLSSL]}, saramaSecure(sk, sarama.SASLTypeSCRAMSHA256, "wrong"))
	if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) && (err == nil || !strings.Contains(err.Error(), "SASL")) {
		t.Fatalf("sarama with a wrong password: %v", err)
	}
}

// TestSecurityConfluent: librdkafka (confluent-kafka-go) produces and
// consumes over SASL_SSL with SCRAM-SHA-256 and OAUTHBEARER (unsecured
// tokens, librdkafka's built-in token maker).
func TestSecurityConfluent(t *testing.T) {
	sk := startSecureKafka(t)
	for _, tc := range []struct {
		name string
		conf kafka.ConfigMap
	}{
		{"SCRAM-SHA-256", kafka.ConfigMap{"sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": secUser, "sasl.password": secPassword}},
		{"OAUTHBEARER", kafka.ConfigMap{"sasl.mechanisms": "OAUTHBEARER", "sasl.oauthbearer.config": "principal=" + secUser, "enable.sasl.oauthbearer.unsecure.jwt": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := kafkaTopicName(t, "rdkafka-sec")
			createTopic(t, sk.addr[kafkaapi.Plaintext], topic, 1, nil)
			conf := func(extra kafka.ConfigMap) *kafka.ConfigMap {
				m := kafka.ConfigMap{"bootstrap.servers": sk.addr[kafkaapi.SASLSSL], "security.protocol": "SASL_SSL",
					"ssl.ca.location": sk.caPEM, "log_level": 3}
				for k, v := range tc.conf {
					m[k] = v
				}
				for k, v := range extra {
					m[k] = v
				}
				return &m
			}
			p, err := kafka.NewProducer(conf(nil))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: 0}, Value: []byte("rd")}, nil); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-p.Events():
				if m, ok := e.(*kafka.Message); !ok || m.TopicPartition.Error != nil {
					t.Fatalf("delivery: %v", e)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("no delivery report")
			}
			c, err := kafka.NewConsumer(conf(kafka.ConfigMap{"group.id": "unused", "enable.auto.commit": false}))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Assign([]kafka.TopicPartition{{Topic: &topic, Partition: 0, Offset: kafka.OffsetBeginning}}); err != nil {
				t.Fatal(err)
			}
			m, err := c.ReadMessage(20 * time.Second)
			if err != nil || string(m.Value) != "rd" {
				t.Fatalf("read: %v %v", err, m)
			}
		})
	}
}

// TestSecurityNothingBeforeAuth: a client that skips SASL on a SASL
// listener (franz-go without SASL) gets no metadata, and a franz-go SCRAM
// client over SASL_PLAINTEXT works beside it.
func TestSecurityNothingBeforeAuth(t *testing.T) {
	sk := startSecureKafka(t)
	anon, err := kgo.NewClient(kgo.SeedBrokers(sk.addr[kafkaapi.SASLPlaintext]), kgo.RequestRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	defer anon.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := anon.Ping(ctx); err == nil {
		t.Fatal("an unauthenticated client was served on a SASL listener")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(sk.addr[kafkaapi.SASLPlaintext]),
		kgo.SASL(scram.Auth{User: secUser, Pass: secPassword}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("SCRAM client: %v", err)
	}
}

// TestSecurityKgoSuite runs the SASL tests of franz-go's own kgo
// integration suite (TestSCRAMAuth, TestSCRAMAuthBadCredentials,
// TestOAuthAuth: skipped unless their variables point at SASL listeners)
// against the SASL_PLAINTEXT listener. Building the suite's test binary is
// most of the time (cached after the first run).
func TestSecurityKgoSuite(t *testing.T) {
	sk := startSecureKafka(t)
	sasl := sk.addr[kafkaapi.SASLPlaintext]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-run", "^(TestSCRAMAuth|TestSCRAMAuthBadCredentials|TestOAuthAuth)$",
		"github.com/twmb/franz-go/pkg/kgo")
	cmd.Env = append(os.Environ(), "KGO_SEEDS="+sk.addr[kafkaapi.Plaintext], "KGO_TEST_RF=1",
		"KGO_TEST_SCRAM="+secUser+":"+secPassword+":512", "KGO_TEST_SCRAM_SEEDS="+sasl, "KGO_TEST_OAUTH_SEEDS="+sasl)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kgo suite: %v\n%s", err, out)
	}
	for _, name := range []string{"TestSCRAMAuth", "TestSCRAMAuthBadCredentials", "TestOAuthAuth"} {
		if !strings.Contains(string(out), "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
}

// TestSecurityKafkajs: kafkajs sends over SASL_SSL with SCRAM-SHA-256,
// SCRAM-SHA-512 and PLAIN (node/ksecure.js), its admin client reads the
// offsets, and a wrong password gets KafkaJSSASLAuthenticationError.
func TestSecurityKafkajs(t *testing.T) {
	nodeBin, dir := nodeClients(t)
	sk := startSecureKafka(t)
	topic := "kafkajs-sec"
	createTopic(t, sk.addr[kafkaapi.Plaintext], topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "ksecure.js")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "BROKER="+sk.addr[kafkaapi.SASLSSL], "CA="+sk.caPEM, "TOPIC="+topic,
		"USER_NAME="+secUser, "PASSWORD="+secPassword)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("ksecure.js: %v\n%s", err, stderr.String())
	}
	var got struct {
		Sent    []string `json:"sent"`
		Offsets []struct {
			Partition int    `json:"partition"`
			High      string `json:"high"`
		} `json:"offsets"`
		Wrong string `json:"wrong"`
	}
	if err := json.Unmarshal(stdout, &got); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	if len(got.Sent) != 3 || len(got.Offsets) != 1 || got.Offsets[0].High != "3" {
		t.Fatalf("kafkajs: %s", stdout)
	}
	if !strings.Contains(got.Wrong, "KafkaJSSASLAuthenticationError") {
		t.Fatalf("wrong password: %s", got.Wrong)
	}
	recs := consumeKgo(t, sk.addr[kafkaapi.Plaintext], topic, map[int32]kgo.Offset{0: kgo.NewOffset().AtStart()}, 3)
	if string(recs[0].Value) != "kafkajs scram-sha-256" || string(recs[2].Value) != "kafkajs plain" {
		t.Fatalf("records %q %q", recs[0].Value, recs[2].Value)
	}
}
