package remotingapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/halfmsg"
	"github.com/twinmq/twinmq/storage"
	"github.com/twinmq/twinmq/wire/remoting"
)

// startTxnBroker starts a broker with transactions on: its half messages
// are checked back at once, and once.
func startTxnBroker(t *testing.T) (*Broker, *storage.Store, string) {
	t.Helper()
	b, st, addr := startBroker(t)
	svc, err := halfmsg.Start(context.Background(), halfmsg.Config{Store: st, Timeout: time.Millisecond, Interval: time.Hour,
		Check: b.CheckTransaction, Discarded: b.TransactionDiscarded, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	b.EnableTransactions(svc)
	return b, st, addr
}

func txnSendExt(topic, group, uniq string) map[string]string {
	props := remoting.AppendProperties(nil, map[string]string{"TAGS": "TagT", "UNIQ_KEY": uniq, "TRAN_MSG": "true", "PGROUP": group, "KEYS": "k-" + uniq})
	return map[string]string{"producerGroup": group, "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "1", "sysFlag": "4", "bornTimestamp": "1", "flag": "0", "properties": string(props)}
}

func endExt(group string, send *remoting.Command, state int) map[string]string {
	_, phys, _ := remoting.ParseOffsetMsgID(send.ExtFields["msgId"])
	return map[string]string{"producerGroup": group, "tranStateTableOffset": send.ExtFields["queueOffset"],
		"commitLogOffset": strconv.FormatInt(phys, 10), "commitOrRollback": strconv.Itoa(state),
		"fromTransactionCheck": "false", "msgId": send.ExtFields["transactionId"], "transactionId": send.ExtFields["transactionId"]}
}

func queueLen(st *storage.Store, topic string, queue int32) int64 {
	n, err := st.MaxOffset(topic, queue)
	if err != nil {
		return 0
	}
	return n
}

// TestTransactionEndAndCheck drives a broker over the wire: a prepared
// message stays out of its topic until committed, then arrives with its
// UNIQ_KEY and without the transaction properties; a rollback writes
// nothing; refusals change nothing; a half message nobody ends is checked
// back on its producer group's connection, and the answer commits it.
func TestTransactionEndAndCheck(t *testing.T) {
	_, st, addr := startTxnBroker(t)
	c := dialRaw(t, addr)
	ok := func(what string, resp *remoting.Command, want int32) {
		t.Helper()
		if resp.Code != want {
			t.Fatalf("%s: code %d (%s), want %d", what, resp.Code, resp.Remark, want)
		}
	}
	s1 := c.call(remoting.SendMessage, txnSendExt("TxT", "pg", "U1"), []byte("one"))
	ok("prepare 1", s1, remoting.Success)
	if s1.ExtFields["queueId"] != "1" || s1.ExtFields["queueOffset"] != "0" || s1.ExtFields["transactionId"] != "U1" {
		t.Fatalf("prepare reply %v", s1.ExtFields)
	}
	s2 := c.call(remoting.SendMessage, txnSendExt("TxT", "pg", "U2"), []byte("two"))
	ok("prepare 2", s2, remoting.Success)
	if got := queueLen(st, "TxT", 1); got != 0 {
		t.Fatalf("a prepared message is in its topic: %d", got)
	}

	// Refusals.
	ok("other group", c.call(remoting.EndTransaction, endExt("other", s1, 8), nil), remoting.SystemError)
	bad := endExt("pg", s1, 8)
	bad["tranStateTableOffset"] = "1" // s2's key with s1's CommitLog offset
	ok("mismatched offsets", c.call(remoting.EndTransaction, bad, nil), remoting.SystemError)
	ok("bad state", c.call(remoting.EndTransaction, endExt("pg", s1, 5), nil), remoting.InvalidParameter)
	ok("no fields", c.call(remoting.EndTransaction, map[string]string{"producerGroup": "pg"}, nil), remoting.InvalidParameter)
	ok("unknown state", c.call(remoting.EndTransaction, endExt("pg", s1, 0), nil), remoting.Success)
	ok("send to the half topic", c.call(remoting.SendMessage, sendExt(halfmsg.HalfTopic), []byte("x")), remoting.NoPermission)
	batch := txnSendExt("TxT", "pg", "U9")
	batch["batch"] = "true"
	body := remoting.AppendBatchMessage(nil, 0, []byte("b"), nil)
	ok("transactional batch", c.call(remoting.SendBatchMessage, batch, body), remoting.MessageIllegal)
	if got := queueLen(st, "TxT", 1); got != 0 {
		t.Fatalf("refused END_TRANSACTIONs wrote %d messages", got)
	}

	ok("commit 1", c.call(remoting.EndTransaction, endExt("pg", s1, 8), nil), remoting.Success)
	ok("commit 1 again", c.call(remoting.EndTransaction, endExt("pg", s1, 8), nil), remoting.SystemError)
	ok("rollback 2", c.call(remoting.EndTransaction, endExt("pg", s2, 12), nil), remoting.Success)
	ok("commit 2 after its rollback", c.call(remoting.EndTransaction, endExt("pg", s2, 8), nil), remoting.SystemError)
	m := readMessage(t, st, "TxT", 1, 0)
	if string(m.Body) != "one" || m.SysFlag&remoting.SysFlagTransactionMask != remoting.SysFlagTransactionCommit {
		t.Fatalf("committed message: body %q sysFlag %#x", m.Body, m.SysFlag)
	}
	if _, phys, _ := remoting.ParseOffsetMsgID(s1.ExtFields["msgId"]); m.PreparedTransactionOffset != phys {
		t.Fatalf("PreparedTransactionOffset %d, want the half message's %d", m.PreparedTransactionOffset, phys)
	}
	props := remoting.ParseProperties(m.Properties)
	if props["UNIQ_KEY"] != "U1" || props["TAGS"] != "TagT" || props["PGROUP"] != "pg" {
		t.Fatalf("committed properties %v", props)
	}
	for _, k := range []string{"REAL_TOPIC", "REAL_QID", "TRAN_MSG"} {
		if _, ok := props[k]; ok {
			t.Fatalf("committed message keeps %s: %v", k, props)
		}
	}
	waitFor(t, func() bool { return queueLen(st, halfmsg.OpTopic, 0) >= 2 })
	if got := queueLen(st, "TxT", 1); got != 1 {
		t.Fatalf("TxT/1 holds %d messages, want the committed one", got)
	}

	// Check-back: a producer of group pg heartbeats on its own
	// connection; a half message nobody ends is checked there.
	p := dialRaw(t, addr)
	hb, _ := json.Marshal(HeartbeatData{ClientID: "127.0.0.1@p", ProducerDataSet: []ProducerData{{GroupName: "pg"}}})
	ok("heartbeat", p.call(remoting.HeartBeat, nil, hb), remoting.Success)
	s3 := c.call(remoting.SendMessage, txnSendExt("TxT", "pg", "U3"), []byte("three"))
	ok("prepare 3", s3, remoting.Success)
	var check *remoting.Command
	for check == nil {
		req, err := p.read()
		if err != nil {
			t.Fatalf("no CHECK_TRANSACTION_STATE: %v", err)
		}
		if req.Code == remoting.CheckTransactionState && req.ExtFields["tranStateTableOffset"] == s3.ExtFields["queueOffset"] {
			check = req
		}
	}
	if !check.IsOneway() || check.ExtFields["msgId"] != "U3" || check.ExtFields["transactionId"] != "U3" ||
		check.ExtFields["offsetMsgId"] != s3.ExtFields["msgId"] {
		t.Fatalf("check header %v flag %d", check.ExtFields, check.Flag)
	}
	cm, _, err := remoting.DecodeStoredMessage(check.Body)
	if err != nil || cm.Topic != "TxT" || cm.QueueID != 1 || string(cm.Body) != "three" {
		t.Fatalf("check body: %+v, %v", cm, err)
	}
	if pr := remoting.ParseProperties(cm.Properties); pr["PGROUP"] != "pg" || pr["TRANSACTION_CHECK_TIMES"] != "1" {
		t.Fatalf("check body properties %v", pr)
	}
	answer := map[string]string{"producerGroup": "pg", "tranStateTableOffset": check.ExtFields["tranStateTableOffset"],
		"commitLogOffset": check.ExtFields["commitLogOffset"], "commitOrRollback": "8", "fromTransactionCheck": "true",
		"msgId": "U3", "transactionId": "U3"}
	other := maps.Clone(answer)
	other["producerGroup"] = "intruder"
	ok("check answered by another group", p.call(remoting.EndTransaction, other, nil), remoting.SystemError)
	ok("check answered", p.call(remoting.EndTransaction, answer, nil), remoting.Success)
	if m := readMessage(t, st, "TxT", 1, 1); string(m.Body) != "three" {
		t.Fatalf("committed after check-back: %q", m.Body)
	}
}

// readMessage polls topic/queue at offset until a message is there.
func readMessage(t *testing.T, st *storage.Store, topic string, queue int32, offset int64) remoting.MessageExt {
	t.Helper()
	var m remoting.MessageExt
	waitFor(t, func() bool {
		res, err := st.Read(topic, queue, offset, storage.ReadOptions{MaxEntries: 1})
		if err != nil {
			return false
		}
		defer res.Release()
		if len(res.Entries) == 0 {
			return false
		}
		m, _, err = remoting.DecodeStoredMessage(append([]byte(nil), res.Entries[0].Payload...))
		return err == nil
	})
	return m
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FuzzParseEndTransaction: any END_TRANSACTION header decodes to a valid
// request or an INVALID_PARAMETER error, never a panic.
func FuzzParseEndTransaction(f *testing.F) {
	f.Add("pg", "0", "190", "8", "false")
	f.Add("pg", "-1", "x", "12", "true")
	f.Add("", "9223372036854775807", "0", "2147483648", "")
	f.Fuzz(func(t *testing.T, group, tso, clo, state, fromCheck string) {
		r, err := parseEndTransaction(map[string]string{"producerGroup": group, "tranStateTableOffset": tso,
			"commitLogOffset": clo, "commitOrRollback": state, "fromTransactionCheck": fromCheck})
		if err != nil {
			if codeFor(err) != remoting.InvalidParameter {
				t.Fatalf("error %v has code %d", err, codeFor(err))
			}
			return
		}
		if r.producerGroup == "" || r.tranStateTableOffset < 0 || r.commitLogOffset < 0 ||
			(r.commitOrRollback != 0 && r.commitOrRollback != 8 && r.commitOrRollback != 12) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// TestTransactionCommitWithDelay: a DELAY property takes effect at the
// commit, not at the prepare: the committed message waits in
// SCHEDULE_TOPIC_XXXX and reaches its topic after its level's delay.
func TestTransactionCommitWithDelay(t *testing.T) {
	b, st, addr := startTxnBroker(t)
	b.EnableDelay(delay.Policy{})
	sched, err := delay.Start(context.Background(), delay.Config{Store: st, Build: b.DelayBuild, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sched.Close() })
	c := dialRaw(t, addr)
	ext := txnSendExt("TxD", "pg", "UD")
	ext["properties"] = string(remoting.AppendProperties(nil, map[string]string{"UNIQ_KEY": "UD", "TRAN_MSG": "true", "PGROUP": "pg", "DELAY": "1"}))
	s := c.call(remoting.SendMessage, ext, []byte("later"))
	if s.Code != remoting.Success {
		t.Fatalf("prepare: %d %s", s.Code, s.Remark)
	}
	if queueLen(st, delay.ScheduleTopic, 0) != 0 {
		t.Fatal("a prepared message was scheduled before its commit")
	}
	if r := c.call(remoting.EndTransaction, endExt("pg", s, 8), nil); r.Code != remoting.Success {
		t.Fatalf("commit: %d %s", r.Code, r.Remark)
	}
	waitFor(t, func() bool { return queueLen(st, delay.ScheduleTopic, 0) == 1 })
	m := readMessage(t, st, "TxD", 1, 0)
	if string(m.Body) != "later" || remoting.ParseProperties(m.Properties)["UNIQ_KEY"] != "UD" {
		t.Fatalf("delivered %q %q", m.Body, m.Properties)
	}
}
