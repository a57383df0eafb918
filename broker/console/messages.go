package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/xproto"
)

// Message is one message as the browser shows it, whichever protocol
// stored it: a Kafka record is shown as a RocketMQ client sees it (its
// headers as properties, its key as KEYS, the made-up UNIQ_KEY as its
// id: docs/cross-protocol.md), so one view fits both.
type Message struct {
	Topic       string `json:"topic"`
	Queue       int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	Protocol    string `json:"protocol"` // "kafka" or "rocketmq": who produced it
	MsgID       string `json:"msgId"`
	OffsetMsgID string `json:"offsetMsgId,omitempty"`
	Key         string `json:"key"`
	Tags        string `json:"tags"`
	// BornMs is the producer's timestamp (Kafka CreateTime, RocketMQ born
	// timestamp); StoreMs when the broker stored it.
	BornMs         int64      `json:"bornMs"`
	StoreMs        int64      `json:"storeMs"`
	ReconsumeTimes int32      `json:"reconsumeTimes,omitempty"`
	Properties     []Property `json:"properties"`
	Body           string     `json:"body"`
	// BodyEncoding is "utf8" or "base64" (a body that is not UTF-8).
	BodyEncoding string `json:"bodyEncoding"`
	BodySize     int    `json:"bodySize"`
	Truncated    bool   `json:"truncated,omitempty"`
}

// Property is a message property (a Kafka header).
type Property struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// maxShownBody bounds the body bytes a message shows.
const maxShownBody = 4 << 10

// kafkaIDPrefix starts every UNIQ_KEY made for a Kafka record
// (xproto.UniqKey: "TQKB" in hex).
const kafkaIDPrefix = "54514B42"

// decodeStored decodes a sequence of RocketMQ stored messages (a pull or
// query body) into views; a damaged tail ends it with an error.
func decodeStored(b []byte, kafka bool, fn func(Message) bool) error {
	for len(b) > 0 {
		m, n, err := remoting.DecodeStoredMessage(b)
		if err != nil {
			return fmt.Errorf("console: stored message: %w", err)
		}
		if n <= 0 || n > len(b) {
			return errors.New("console: stored message: bad length")
		}
		b = b[n:]
		if !fn(messageView(&m, kafka)) {
			return nil
		}
	}
	return nil
}

func messageView(m *remoting.MessageExt, kafka bool) Message {
	v := Message{Topic: m.Topic, Queue: m.QueueID, Offset: m.QueueOffset, BornMs: m.BornTimestamp,
		StoreMs: m.StoreTimestamp, ReconsumeTimes: m.ReconsumeTimes, BodySize: len(m.Body), Properties: []Property{}}
	for _, p := range remoting.ParsePropertyList(m.Properties) {
		switch p.Key {
		case "KEYS":
			v.Key = p.Value
		case "TAGS":
			v.Tags = p.Value
		case "UNIQ_KEY":
			v.MsgID = p.Value
		}
		v.Properties = append(v.Properties, Property{p.Key, p.Value})
	}
	v.Protocol = "rocketmq"
	if kafka || (len(v.MsgID) == 32 && v.MsgID[:8] == kafkaIDPrefix) {
		v.Protocol = "kafka"
	} else if m.StoreHost.IsValid() {
		v.OffsetMsgID = m.OffsetMsgID()
	}
	body := m.Body
	if len(body) > maxShownBody {
		body, v.Truncated = body[:maxShownBody], true
	}
	if utf8.Valid(body) {
		v.Body, v.BodyEncoding = string(body), "utf8"
	} else {
		v.Body, v.BodyEncoding = base64.StdEncoding.EncodeToString(body), "base64"
	}
	return v
}

// maxBrowse bounds the messages of one browse page.
const maxBrowse = 100

// browseBytes bounds the stored bytes one browse page reads.
const browseBytes = 4 << 20

// browse: GET /api/topics/{topic}/messages?partition=P&offset=O|time=MS&limit=N.
// Without offset or time it shows the last limit messages.
func (s *Server) browse(r *http.Request) (any, error) {
	topic := r.PathValue("topic")
	c, ok := s.cfg.Topics.Get(topic)
	if !ok {
		return nil, fmt.Errorf("%w: topic %s", ErrNotFound, topic)
	}
	q, err := intParam(r, "partition", 0, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if int32(q) >= c.Queues {
		return nil, fmt.Errorf("%w: topic %s has no partition %d", ErrBadRequest, topic, q)
	}
	queue := int32(q)
	limit, err := intParam(r, "limit", 20, 1, maxBrowse)
	if err != nil {
		return nil, err
	}
	start, end, err := s.queueRange(topic, queue)
	if err != nil {
		return nil, err
	}
	from := max(end-limit, start)
	if r.URL.Query().Has("offset") {
		if from, err = intParam(r, "offset", 0, 0, math.MaxInt64); err != nil {
			return nil, err
		}
	} else if r.URL.Query().Has("time") {
		ms, err := intParam(r, "time", 0, 0, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		if from, err = s.logs.OffsetForTime(topic, queue, ms); err != nil {
			from = end
		}
	}
	from = min(max(from, start), end)
	page := struct {
		Topic    string    `json:"topic"`
		Queue    int32     `json:"partition"`
		Start    int64     `json:"start"`
		End      int64     `json:"end"`
		From     int64     `json:"from"`
		Next     int64     `json:"next"`
		Messages []Message `json:"messages"`
	}{Topic: topic, Queue: queue, Start: start, End: end, From: from, Next: from, Messages: []Message{}}
	msgs, next, err := s.readMessages(topic, queue, from, int(limit))
	if err != nil {
		return nil, err
	}
	page.Messages, page.Next = append(page.Messages, msgs...), next
	return page, nil
}

// readMessages reads up to limit messages of a queue from offset through
// the log service (never past the visible end), converting Kafka batches
// as a RocketMQ pull would.
func (s *Server) readMessages(topic string, queue int32, from int64, limit int) ([]Message, int64, error) {
	var out []Message
	next := from
	for len(out) < limit {
		res, err := s.logs.Read(topic, queue, next, log.ReadOptions{MaxBytes: browseBytes, MaxUnits: limit - len(out)})
		if err != nil {
			if errors.Is(err, log.ErrQueueNotFound) {
				return out, next, nil
			}
			return nil, next, fmt.Errorf("console: read %s/%d@%d: %w", topic, queue, next, err)
		}
		if len(res.Entries) == 0 {
			res.Release()
			break
		}
		for _, e := range res.Entries {
			body, isKafka, err := s.stored(topic, queue, e, next)
			if err != nil {
				s.log.Warn("console: cannot show an entry", "topic", topic, "queue", queue, "phys", e.Phys, "err", err)
				continue
			}
			derr := decodeStored(body, isKafka, func(m Message) bool {
				if m.Offset < from || len(out) >= limit {
					return len(out) < limit
				}
				out = append(out, m)
				return true
			})
			if derr != nil {
				s.log.Warn("console: cannot decode an entry", "topic", topic, "queue", queue, "phys", e.Phys, "err", derr)
			}
		}
		moved := res.Next > next
		next = res.Next
		res.Release()
		if !moved {
			break
		}
	}
	if len(out) > 0 {
		next = max(next, out[len(out)-1].Offset+1)
		if len(out) >= limit {
			next = out[len(out)-1].Offset + 1
		}
	}
	return out, next, nil
}

// stored returns an entry as RocketMQ stored messages: as it is, or a
// Kafka batch's records from offset from converted (wire/xproto).
func (s *Server) stored(topic string, queue int32, e log.Entry, from int64) ([]byte, bool, error) {
	switch e.Kind {
	case log.KindRocketMQ:
		return e.Payload, false, nil
	case log.KindKafka:
		ke := xproto.KafkaEntry{Topic: topic, QueueID: queue, Phys: e.Phys, StoreTime: e.StoreTime, StoreHost: s.storeHost()}
		body, _, err := xproto.ToRocketMQ(nil, e.Payload, ke, from, nil)
		return body, true, err
	}
	return nil, false, nil
}

// storeHost is the address written into stored messages (offsetMsgIds).
func (s *Server) storeHost() netip.AddrPort {
	if s.cfg.StoreHost != nil {
		if a := s.cfg.StoreHost(); a.IsValid() {
			return a
		}
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), 0)
}

// maxSearch bounds the messages a search returns (QUERY_MESSAGE's maxNum).
const maxSearch = 64

// search: GET /api/messages/search?topic=T&key=K or &id=ID: the IndexFile
// query RocketMQ's QUERY_MESSAGE (12) serves, in process, so Kafka
// records are found by their key too; an id is a UNIQ_KEY (a Kafka
// record's made-up one included) or an offsetMsgId.
func (s *Server) search(r *http.Request) (any, error) {
	qv := r.URL.Query()
	topic, key, id := qv.Get("topic"), qv.Get("key"), qv.Get("id")
	if topic == "" || (key == "") == (id == "") {
		return nil, fmt.Errorf("%w: give topic and one of key or id", ErrBadRequest)
	}
	if _, ok := s.cfg.Topics.Get(topic); !ok {
		return nil, fmt.Errorf("%w: topic %s", ErrNotFound, topic)
	}
	begin, err := intParam(r, "begin", 0, 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	end, err := intParam(r, "end", math.MaxInt64, 0, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	rmq, err := s.rocketMQAdmin()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	req := remoting.NewRequest(remoting.QueryMessage, 0)
	req.ExtFields["topic"], req.ExtFields["key"] = topic, key
	req.ExtFields["maxNum"] = strconv.Itoa(maxSearch)
	req.ExtFields["beginTimestamp"], req.ExtFields["endTimestamp"] = strconv.FormatInt(begin, 10), strconv.FormatInt(end, 10)
	if id != "" {
		req.ExtFields["key"], req.ExtFields["_UNIQUE_KEY_QUERY"] = id, "true"
	}
	resp, err := rmq.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	out := []Message{}
	body := resp.Body
	if resp.Code != remoting.Success && id != "" {
		// An offsetMsgId names a CommitLog offset: VIEW_MESSAGE_BY_ID (33).
		if _, off, perr := remoting.ParseOffsetMsgID(id); perr == nil {
			vreq := remoting.NewRequest(remoting.ViewMessageByID, 0)
			vreq.ExtFields["offset"] = strconv.FormatInt(off, 10)
			if resp, err = rmq.Invoke(ctx, vreq); err != nil {
				return nil, err
			}
			body = resp.Body
		}
	}
	if resp.Code != remoting.Success {
		return map[string]any{"messages": out, "note": resp.Remark}, nil
	}
	err = decodeStored(body, false, func(m Message) bool {
		if m.Topic == topic && (id == "" || m.MsgID == id || m.OffsetMsgID == id) {
			out = append(out, m)
		}
		return len(out) < maxSearch
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"messages": out}, nil
}
