package remotingapi

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSendBack measures CONSUMER_SEND_MSG_BACK (36) over loopback,
// one request at a time, against SEND_MESSAGE_V2 of the same message as
// the baseline: requests per second and per CPU-second of the process
// (broker and client together, so per core is a lower bound).
func BenchmarkSendBack(b *testing.B) {
	br, st, addr := startBroker(b)
	br.EnableDelay(delay.Policy{})
	c, err := nameserver.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	invoke := func(code int32, ext map[string]string, body []byte) {
		req := remoting.NewRequest(code, 0)
		for k, v := range ext {
			req.ExtFields[k] = v
		}
		req.Body = body
		resp, err := c.Invoke(context.Background(), req)
		if err != nil || resp.Code != remoting.Success {
			b.Fatalf("code %d: %v %v", code, resp, err)
		}
	}
	hb := `{"clientID":"c1","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY",` +
		`"messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"T","subString":"*"}]}]}`
	invoke(remoting.HeartBeat, nil, []byte(hb))
	send := map[string]string{"a": "pg", "b": "T", "c": "TBW102", "d": "1", "e": "0", "f": "0", "g": "1", "h": "0",
		"i": string(remoting.AppendProperties(nil, map[string]string{"TAGS": "a"}))}
	body := make([]byte, 256)
	invoke(remoting.SendMessageV2, send, body)
	m := waitMessage(b, st, "T", 0)
	back := map[string]string{"offset": strconv.FormatInt(m.CommitLogOffset, 10), "group": "g", "delayLevel": "0",
		"originTopic": "T", "maxReconsumeTimes": "16"}
	for _, bc := range []struct {
		name string
		code int32
		ext  map[string]string
		body []byte
	}{{"send", remoting.SendMessageV2, send, body}, {"sendback", remoting.ConsumerSendMsgBack, back, nil}} {
		b.Run(bc.name, func(b *testing.B) {
			start, cpu0 := time.Now(), cpuTime()
			for b.Loop() {
				invoke(bc.code, bc.ext, bc.body)
			}
			wall, cpu := time.Since(start).Seconds(), (cpuTime() - cpu0).Seconds()
			b.ReportMetric(float64(b.N)/wall, "req/s")
			b.ReportMetric(float64(b.N)/cpu, "req/cpu-s")
		})
	}
}
