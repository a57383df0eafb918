package main

import (
	"strings"
	"testing"
	"time"
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
