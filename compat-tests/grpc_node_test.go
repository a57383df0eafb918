package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	rmq5 "github.com/apache/rocketmq-clients/golang/v5"
)

// rmq5Event is one line of node/rmq5.js.
type rmq5Event struct {
	Sent        *int              `json:"sent"`
	SentDelayed int64             `json:"sentDelayed"`
	ID          string            `json:"id"`
	Body        string            `json:"body"`
	Tag         string            `json:"tag"`
	Keys        []string          `json:"keys"`
	Props       map[string]string `json:"props"`
	Attempt     int               `json:"attempt"`
	Group       string            `json:"group"`
	At          int64             `json:"at"`
	Ack         bool              `json:"ack"`
}

// runRMQ5 runs one role of node/rmq5.js (rocketmq-client-nodejs 1.0.8)
// against c's gRPC listener to its end and returns its events.
func runRMQ5(t *testing.T, c *grpcCluster, role, topic string, env ...string) []rmq5Event {
	t.Helper()
	nodeBin, dir := nodeClients(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "rmq5.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append([]string{"ROLE=" + role, "ENDPOINTS=" + c.grpcAddr, "TOPIC=" + topic,
		"TIMEOUT_MS=60000", "VERBOSE=" + os.Getenv("RMQ5_VERBOSE")}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node rmq5.js %s: %v\nstdout:\n%s\nstderr:\n%s", role, err, out, stderr.Bytes())
	}
	var evs []rmq5Event
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e rmq5Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: line %q: %v", role, sc.Text(), err)
		}
		evs = append(evs, e)
	}
	return evs
}

// TestGRPCNodeClient: the Node.js RocketMQ 5 client
// (rocketmq-client-nodejs 1.0.8) against twinmq's gRPC listener. Its
// Producer sends normal messages (tag, key, property), a FIFO message
// group and a delayed message; its SimpleConsumer receives with a tag
// filter, changes a message's invisible time (it comes back with delivery
// attempt 2) and acknowledges; its PushConsumer consumes every message of
// a topic once, and one it answers FAILURE for comes back. A v5 Go
// SimpleConsumer reads what the Node.js producer sent, and the reverse.
func TestGRPCNodeClient(t *testing.T) {
	nodeClients(t)
	c := startGRPCCluster(t, 0)
	const n = 10
	check := func(name string, e rmq5Event, i int) {
		t.Helper()
		if e.Body != fmt.Sprint("body-", i) || e.Tag != []string{"A", "B"}[i%2] || !slices.Equal(e.Keys, []string{fmt.Sprint("k-", i)}) ||
			e.Props["seq"] != fmt.Sprint(i) {
			t.Errorf("%s: message %d: %+v", name, i, e)
		}
	}
	index := func(e rmq5Event) int {
		var i int
		if _, err := fmt.Sscanf(e.Body, "body-%d", &i); err != nil {
			t.Fatalf("body %q", e.Body)
		}
		return i
	}

	t.Run("producer-simple-consumer", func(t *testing.T) {
		topic := "rmq5-node"
		c.createTopic(t, topic, 4)
		sent := runRMQ5(t, c, "produce", topic, fmt.Sprint("COUNT=", n), "DELAY_MS=2000")
		if len(sent) != n+1 || sent[n].SentDelayed == 0 {
			t.Fatalf("sent %d events: %+v", len(sent), sent)
		}
		ids := map[string]int{}
		for i, e := range sent[:n] {
			ids[e.ID] = i
		}
		// Tag A only, with one invisible-time change: n/2 acknowledged,
		// one of them at its second attempt.
		got := runRMQ5(t, c, "simple", topic, "GROUP=g-node-simple", fmt.Sprint("WANT=", n/2), "EXPR=A", "CHANGE=1")
		acked, seen, changed := 0, map[string]bool{}, ""
		for _, e := range got {
			i, ok := ids[e.ID]
			if !ok {
				t.Fatalf("received a message not sent: %+v", e)
			}
			check("simple", e, i)
			if !e.Ack {
				changed = e.ID
				continue
			}
			if seen[e.ID] {
				t.Errorf("message %d acknowledged twice", i)
			}
			seen[e.ID] = true
			acked++
			if want := 1 + map[bool]int{true: 1}[e.ID == changed]; e.Attempt != want {
				t.Errorf("message %d: attempt %d, want %d", i, e.Attempt, want)
			}
		}
		if acked != n/2 || changed == "" || !seen[changed] {
			t.Fatalf("acknowledged %d of %d; the changed message %q back: %v", acked, n/2, changed, seen[changed])
		}
		// The delayed message, not before its time, to a Go v5 consumer.
		sc := c.simpleConsumer(t, "g-node-delay", topic, "D", 2*time.Second)
		late := receive5(t, sc, 1, time.Minute, 30*time.Second)
		if len(late) != 1 || late[0].GetMessageId() != sent[n].ID || string(late[0].GetBody()) != "delayed" {
			t.Fatalf("delayed message: %+v", late)
		}
		if now := time.Now().UnixMilli(); now < sent[n].SentDelayed {
			t.Fatalf("the delayed message arrived %d ms early", sent[n].SentDelayed-now)
		}
	})

	t.Run("fifo", func(t *testing.T) {
		topic := "rmq5-node-fifo"
		c.createTopic(t, topic, 4)
		runRMQ5(t, c, "produce", topic, fmt.Sprint("COUNT=", n), "GROUP_KEY=order-7")
		sc := c.simpleConsumer(t, "g-node-fifo", topic, "*", 2*time.Second)
		var bodies []string
		for deadline := time.Now().Add(30 * time.Second); len(bodies) < n && time.Now().Before(deadline); {
			for _, mv := range receive5(t, sc, n-len(bodies), time.Minute, 5*time.Second) {
				if mv.GetMessageGroup() == nil || *mv.GetMessageGroup() != "order-7" {
					t.Fatalf("message group %v", mv.GetMessageGroup())
				}
				bodies = append(bodies, string(mv.GetBody()))
				if err := sc.Ack(context.Background(), mv); err != nil {
					t.Fatal(err)
				}
			}
		}
		for i := range n {
			if i >= len(bodies) || bodies[i] != fmt.Sprint("body-", i) {
				t.Fatalf("FIFO order: %v", bodies)
			}
		}
	})

	t.Run("push-consumer", func(t *testing.T) {
		topic := "rmq5-node-push"
		c.createTopic(t, topic, 4)
		p := c.producer5(t, topic) // the Go client sends, Node.js consumes
		for i := range n {
			send5(t, p, newMsg5(topic, i))
		}
		got := runRMQ5(t, c, "push", topic, "GROUP=g-node-push", fmt.Sprint("WANT=", n), "FAIL_FIRST=1")
		done := map[int]int{}
		for _, e := range got {
			i := index(e)
			check("push", e, i)
			if e.Ack {
				done[i]++
				if e.Attempt < 2 {
					t.Errorf("message %d consumed at attempt %d after a FAILURE", i, e.Attempt)
				}
			}
		}
		for i := range n {
			if done[i] != 1 {
				t.Errorf("message %d consumed %d times", i, done[i])
			}
		}
		if k := c.inFlight(t, "g-node-push", topic, 4); k != 0 {
			t.Errorf("%d messages still locked after the push consumer acknowledged all", k)
		}
	})
}

// newMsg5 is message i as node/rmq5.js's producer sends it.
func newMsg5(topic string, i int) *rmq5.Message {
	m := &rmq5.Message{Topic: topic, Body: []byte(fmt.Sprint("body-", i))}
	m.SetTag([]string{"A", "B"}[i%2])
	m.SetKeys(fmt.Sprint("k-", i))
	m.AddProperty("seq", fmt.Sprint(i))
	return m
}
