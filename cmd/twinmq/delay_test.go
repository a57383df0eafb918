package main

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

func TestDelaySettings(t *testing.T) {
	c := defaultConfig()
	p, err := c.delayPolicy()
	if err != nil || p.Levels.Max() != 18 || p.TimerMaxDelay != 72*time.Hour || p.TimerDisabled {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	c.MessageDelayLevel, c.TimerMaxDelaySec, c.TimerPrecisionMs, c.TimerWheelEnable = "2s 1m", 60, 1000, false
	p, err = c.delayPolicy()
	if err != nil || p.Levels.String() != "2s 1m" || p.TimerMaxDelay != time.Minute || p.TimerPrecision != time.Second || !p.TimerDisabled {
		t.Fatalf("set: %+v %v", p, err)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.MessageDelayLevel = "1x" },
		func(c *Config) { c.TimerMaxDelaySec = 0 },
		func(c *Config) { c.TimerPrecisionMs = -1 },
	} {
		c := defaultConfig()
		bad(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%+v validated", c)
		}
	}
}

// TestServeStartsDelayServices: serve runs the delay-level scheduler and
// the timer wheel with the configured settings.
func TestServeStartsDelayServices(t *testing.T) {
	cfg := testConfig(t, func(c *Config) { c.MessageDelayLevel = "1s 3s" })
	logs := startStop(t, cfg)
	for _, want := range []string{"delay services running", `messageDelayLevel="1s 3s"`, "timerWheelEnable=true", "timerMaxDelay=72h0m0s"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestResendDLQCommand: `twinmq message resend-dlq` reaches a running
// serve; a group without a DLQ is TOPIC_NOT_EXIST (17).
func TestResendDLQCommand(t *testing.T) {
	addr := listenAddr(t, serveForTest(t), "RocketMQ remoting")
	_, err := twinmqCmd(t, "message", "resend-dlq", "--group", "nogroup", "--broker-addr", addr)
	if err == nil || !strings.Contains(err.Error(), "answered 17") {
		t.Fatalf("err %v, want TOPIC_NOT_EXIST (17)", err)
	}
}

// TestDelayMetrics: a message sent with delay level 1 (1 s here) is
// counted fired once delivered; one of level 2 (an hour) stays pending.
func TestDelayMetrics(t *testing.T) {
	cfg := testConfig(t, func(c *Config) { c.MessageDelayLevel = "1s 1h" })
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	kafka := listenAddr(t, logs, "Kafka")
	mustCmd(t, "topic", "create", "later", "--partitions", "1", "--bootstrap-server", kafka)
	rc, err := nameserver.Dial(t.Context(), listenAddr(t, logs, "RocketMQ remoting"))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, level := range []string{"1", "2"} {
		send := remoting.NewRequest(remoting.SendMessage, 0)
		maps.Copy(send.ExtFields, map[string]string{"producerGroup": "pg", "topic": "later", "queueId": "0", "sysFlag": "0",
			"bornTimestamp": "1", "flag": "0", "properties": "DELAY\x01" + level + "\x02"})
		send.Body = []byte("level " + level)
		if resp, err := rc.Invoke(t.Context(), send); err != nil || resp.Code != remoting.Success {
			t.Fatalf("send at level %s: %v %+v", level, err, resp)
		}
	}
	metrics := "http://" + listenAddr(t, logs, "HTTP") + "/metrics"
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body := httpGet(t, metrics)
		fired, _ := seriesValue(t, body, `twinmq_delay_messages_fired_total{level="1"}`)
		p1, _ := seriesValue(t, body, `twinmq_delay_messages_pending{level="1"}`)
		p2, _ := seriesValue(t, body, `twinmq_delay_messages_pending{level="2"}`)
		if fired == 1 && p1 == 0 && p2 == 1 {
			if f2, ok := seriesValue(t, body, `twinmq_delay_messages_fired_total{level="2"}`); !ok || f2 != 0 {
				t.Fatalf("level 2 fired %v (found %v), want 0", f2, ok)
			}
			if _, ok := seriesValue(t, body, "twinmq_timer_messages_fired_total"); !ok {
				t.Fatal("no timer metrics")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: level 1 fired %v, pending %v; level 2 pending %v", fired, p1, p2)
		}
	}
}
