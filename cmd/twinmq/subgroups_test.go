package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestSubscriptionGroupRestart: a subscription-group config stored with
// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) is what rocketmq-client-go's
// admin reads back (GET_ALL_SUBSCRIPTIONGROUP_CONFIG) and what refuses
// the group's pulls, before and after serve restarts on the same data
// directory.
func TestSubscriptionGroupRestart(t *testing.T) {
	rlog.SetLogLevel("fatal")
	cfg := testConfig(t, nil)
	start := func() (stop func(), nsAddr, rmqAddr string) {
		logs := &syncBuffer{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil))) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}, listenAddr(t, logs, "name server"), listenAddr(t, logs, "RocketMQ remoting")
	}
	check := func(nsAddr, rmqAddr string) {
		t.Helper()
		adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{nsAddr})))
		if err != nil {
			t.Fatal(err)
		}
		defer adm.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		w, err := adm.GetAllSubscriptionGroup(ctx, rmqAddr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := w.SubscriptionGroupTable["paused"]
		if !ok || g.ConsumeEnable || g.RetryMaxTimes != 2 || !g.ConsumeFromMinEnable || g.WhichBrokerWhenConsumeSlowly != 1 {
			t.Fatalf("paused as rocketmq-client-go's admin reads it: %+v (found %v)", g, ok)
		}
		pull := rmqAdmin(t, rmqAddr, remoting.PullMessage, map[string]string{"consumerGroup": "paused", "topic": "TBW102",
			"queueId": "0", "queueOffset": "0", "maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0",
			"suspendTimeoutMillis": "0", "subscription": "*"})
		if pull.Code != remoting.NoPermission {
			t.Fatalf("pull of paused: %d %s", pull.Code, pull.Remark)
		}
	}
	stop, nsAddr, rmqAddr := start()
	c, err := nameserver.Dial(t.Context(), rmqAddr)
	if err != nil {
		t.Fatal(err)
	}
	upd := remoting.NewRequest(200, 0)
	upd.Body = []byte(`{"groupName":"paused","consumeEnable":false,"retryMaxTimes":2}`)
	resp, err := c.Invoke(t.Context(), upd)
	c.Close()
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("UPDATE_AND_CREATE_SUBSCRIPTIONGROUP: %v %+v", err, resp)
	}
	check(nsAddr, rmqAddr)
	stop()
	stop, nsAddr, rmqAddr = start()
	defer stop()
	check(nsAddr, rmqAddr)
}
