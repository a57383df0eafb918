package remotingapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/stats"
	"github.com/twinmq/twinmq/broker/subgroups"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestSubscriptionGroups: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200)
// stores a config that GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) lists and
// the broker enforces as Java's does: consumeEnable false refuses the
// group's pulls (NO_PERMISSION, forbiddenType 2), retryMaxTimes is a
// send-back's maximum when the request names none, brokerId and
// whichBrokerWhenConsumeSlowly are the suggested broker with slave reads
// on; DELETE_SUBSCRIPTIONGROUP (207) lifts it. A bad body or group name
// is INVALID_PARAMETER with Java's remark. VIEW_BROKER_STATS_DATA (315)
// reports the pulls and the send-back.
func TestSubscriptionGroups(t *testing.T) {
	ctx := context.Background()
	// A pull more than 3,000 bytes behind is slow: one from the first of
	// 40 messages (about 150 bytes each) is, one from the last is not.
	b, st, addr := startBrokerWith(t, Config{SlaveReadEnable: true, SlowPullBytes: 3000}, func(b *Broker) netio.Handler { return b })
	subs, err := subgroups.Open(ctx, st, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer subs.Close()
	b.SetSubscriptionGroups(subs)
	b.EnableDelay(delay.Policy{})
	tb := stats.New()
	b.SetStats(tb)
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	update := func(body string) *remoting.Command { return call(t, c, 200, nil, []byte(body)) }
	for body, remark := range map[string]string{
		`{"groupName":"bad name"}`: "The specified group: bad name, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
		`{"groupName":""}`:         "The specified group is blank.",
		`{"groupName":`:            "",
	} {
		if r := update(body); r.Code != remoting.InvalidParameter || remark != "" && r.Remark != remark {
			t.Errorf("update %s: %d %q, want INVALID_PARAMETER %q", body, r.Code, r.Remark, remark)
		}
	}
	if r := update(`{"groupName":"off","consumeEnable":false,"retryMaxTimes":0,"brokerId":2,"whichBrokerWhenConsumeSlowly":3,"someFutureField":1}`); r.Code != remoting.Success {
		t.Fatalf("update: %d %s", r.Code, r.Remark)
	}

	// 201 lists it with the fields it was given and Java's defaults for
	// the rest.
	var wrapper struct {
		SubscriptionGroupTable map[string]subgroups.Config
	}
	r := call(t, c, remoting.GetAllSubscriptionGroupConfig, nil, nil)
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &wrapper) != nil {
		t.Fatalf("201: %d %s", r.Code, r.Body)
	}
	got := wrapper.SubscriptionGroupTable["off"]
	if got.ConsumeEnable || got.RetryMaxTimes != 0 || got.BrokerID != 2 || got.WhichBrokerWhenConsumeSlowly != 3 ||
		!got.ConsumeFromMinEnable || got.RetryQueueNums != 1 || got.ConsumeTimeoutMinute != 15 || !got.NotifyConsumerIDsChangedEnable {
		t.Fatalf("201 lists %+v", got)
	}

	const last = 39
	for range last + 1 {
		if r := sendProps(t, c, "T", map[string]string{"TAGS": "a"}); r.Code != remoting.Success || r.ExtFields["queueId"] != "0" {
			t.Fatalf("send: %d %s %v", r.Code, r.Remark, r.ExtFields)
		}
	}
	m := waitMessage(t, st, "T", last)
	pull := func(group string, offset int64) *remoting.Command {
		return call(t, c, remoting.PullMessage, map[string]string{"consumerGroup": group, "topic": "T", "queueId": "0",
			"queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0",
			"suspendTimeoutMillis": "0", "subscription": "*"}, nil)
	}
	if r := pull("off", 0); r.Code != remoting.NoPermission || r.Remark != "subscription group no permission, off" ||
		r.ExtFields["forbiddenType"] != "2" {
		t.Fatalf("pull of a group with consumeEnable off: %d %q %v", r.Code, r.Remark, r.ExtFields)
	}
	// Another group pulls, told to go to broker 1 when slow and to the
	// master otherwise (the defaults).
	if r := pull("on", 0); r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "1" {
		t.Fatalf("slow pull of a default group: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	if r := pull("on", last); r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "0" {
		t.Fatalf("pull of a default group: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}

	// A send-back of off's without maxReconsumeTimes: retryMaxTimes 0
	// dead-letters the first failure.
	hb := `{"clientID":"c1","producerDataSet":[],"consumerDataSet":[{"groupName":"off","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}`
	if r := call(t, c, remoting.HeartBeat, nil, []byte(hb)); r.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", r.Code, r.Remark)
	}
	if r := call(t, c, remoting.ConsumerSendMsgBack, map[string]string{"offset": strconv.FormatInt(m.CommitLogOffset, 10),
		"group": "off", "delayLevel": "0", "originTopic": "T"}, nil); r.Code != remoting.Success {
		t.Fatalf("send back: %d %s", r.Code, r.Remark)
	}
	waitMessage(t, st, "%DLQ%off", 0)

	// VIEW_BROKER_STATS_DATA (315): the pulls that found messages and
	// the send-back, once sampled, in Java's BrokerStatsData.
	tb.Sample(stats.Minute, time.Now().Add(time.Second))
	view := func(name, key string) *remoting.Command {
		return call(t, c, 315, map[string]string{"statsName": name, "statsKey": key}, nil)
	}
	r = view("GROUP_GET_NUMS", "T@on")
	var data stats.Data
	if r.Code != remoting.Success || json.Unmarshal(r.Body, &data) != nil || data.StatsMinute.Sum < 2 || data.StatsMinute.Avgpt <= 0 {
		t.Fatalf("GROUP_GET_NUMS T@on: %d %s %s", r.Code, r.Remark, r.Body)
	}
	if !strings.HasPrefix(string(r.Body), `{"statsDay":{"avgpt":`) {
		t.Fatalf("BrokerStatsData not in fastjson's field order: %s", r.Body)
	}
	if r = view("SNDBCK_PUT_NUMS", "T@off"); r.Code != remoting.Success || json.Unmarshal(r.Body, &data) != nil || data.StatsMinute.Sum != 1 {
		t.Fatalf("SNDBCK_PUT_NUMS T@off: %d %s %s", r.Code, r.Remark, r.Body)
	}
	if r = view("BROKER_GET_NUMS", "DefaultCluster"); r.Code != remoting.Success {
		t.Fatalf("BROKER_GET_NUMS: %d %s", r.Code, r.Remark)
	}
	if r = view("GROUP_GET_NUMS", "T@nobody"); r.Code != remoting.SystemError || r.Remark != "The stats <GROUP_GET_NUMS> <T@nobody> not exist" {
		t.Fatalf("unknown stats item: %d %q", r.Code, r.Remark)
	}
	if r = call(t, c, 315, map[string]string{"statsName": "GROUP_GET_NUMS"}, nil); r.Code == remoting.Success {
		t.Fatal("315 without statsKey answered SUCCESS")
	}

	// Enabled again, the group pulls, and brokerId / whichBrokerWhenConsumeSlowly
	// are its suggestions.
	if r := update(`{"groupName":"off","consumeEnable":true,"brokerId":2,"whichBrokerWhenConsumeSlowly":3}`); r.Code != remoting.Success {
		t.Fatalf("update: %d %s", r.Code, r.Remark)
	}
	if r := pull("off", 0); r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "3" {
		t.Fatalf("slow pull of a configured group: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
	if r := pull("off", last); r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "2" {
		t.Fatalf("pull of a configured group: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}

	// 207 removes the config: back to the defaults.
	if r := update(`{"groupName":"off","consumeEnable":false}`); r.Code != remoting.Success {
		t.Fatalf("update: %d %s", r.Code, r.Remark)
	}
	if r := call(t, c, 207, map[string]string{"groupName": "off", "cleanOffset": "false"}, nil); r.Code != remoting.Success {
		t.Fatalf("207: %d %s", r.Code, r.Remark)
	}
	if _, ok := subs.Get("off"); ok {
		t.Fatal("config kept after 207")
	}
	if r := pull("off", last); r.Code != remoting.Success || r.ExtFields["suggestWhichBrokerId"] != "0" {
		t.Fatalf("pull after 207: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
}
