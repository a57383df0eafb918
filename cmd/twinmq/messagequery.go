package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// `twinmq message query`: mqadmin's queryMsgByKey, queryMsgById and
// queryMsgByUniqueKey in one command, over the RocketMQ remoting protocol.
// By key or by message id (UNIQ_KEY) it asks every master of the topic's
// route (or --broker-addr alone) for QUERY_MESSAGE (12), which the
// IndexFile answers; by offsetMsgId it asks the broker the id names for
// VIEW_MESSAGE_BY_ID (33). Kafka-produced records are found too: their key
// is the RocketMQ KEYS, and the broker converts them.

// maxQueryResults is the most messages one broker returns per query.
const maxQueryResults = 64

// queriedMessage is one message `message query` prints.
type queriedMessage struct {
	MsgID       string            `json:"msgId"`
	OffsetMsgID string            `json:"offsetMsgId"`
	Topic       string            `json:"topic"`
	QueueID     int32             `json:"queueId"`
	QueueOffset int64             `json:"queueOffset"`
	StoreTime   time.Time         `json:"storeTime"`
	BornTime    time.Time         `json:"bornTime"`
	StoreHost   string            `json:"storeHost"`
	Tags        string            `json:"tags,omitempty"`
	Keys        string            `json:"keys,omitempty"`
	Properties  map[string]string `json:"properties,omitempty"`
	BodySize    int               `json:"bodySize"`
	Body        string            `json:"body"` // the bytes as text; invalid UTF-8 is replaced
}

// queryFlags are `message query`'s flags.
type queryFlags struct {
	topic, key, id, offsetID string
	begin, end               string
	max                      int
	nsAddr, brokerAddr       string
	body                     bool
}

func newMessageQueryCommand() *cobra.Command {
	var f queryFlags
	cmd := &cobra.Command{
		Use:   "query --topic T (--key K | --id MSGID | --offset-id OFFSETMSGID) [--begin TIME] [--end TIME]",
		Short: "Find messages by key, message id or offsetMsgId (the IndexFile; Kafka records too)",
		Long: "By --key (a RocketMQ KEYS entry, a Kafka record key) or --id (the message id,\n" +
			"UNIQ_KEY) it asks every master of the topic's route (from --namesrv-addr), or\n" +
			"--broker-addr alone, for QUERY_MESSAGE, stored between --begin and --end (RFC 3339\n" +
			"or unix ms; default: all). By --offset-id it reads the message at the CommitLog\n" +
			"offset the id names, from the broker it names (VIEW_MESSAGE_BY_ID).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			msgs, err := runQuery(cmd.Context(), f)
			if err != nil {
				return fmt.Errorf("%s: %w", commandName(cmd), err)
			}
			return writeOutput(cmd, msgs, func(w io.Writer) error { return printQueried(w, msgs, f.body) })
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.topic, "topic", "", "the topic (required with --key and --id)")
	fl.StringVar(&f.key, "key", "", "message key")
	fl.StringVar(&f.id, "id", "", "message id (UNIQ_KEY, what a producer's send returns as msgId)")
	fl.StringVar(&f.offsetID, "offset-id", "", "offsetMsgId (store host and CommitLog offset)")
	fl.StringVar(&f.begin, "begin", "", "stored at or after this time (RFC 3339 or unix ms)")
	fl.StringVar(&f.end, "end", "", "stored at or before this time (RFC 3339 or unix ms)")
	fl.IntVar(&f.max, "max", 32, fmt.Sprintf("most messages per broker (1..%d)", maxQueryResults))
	fl.StringVar(&f.nsAddr, "namesrv-addr", "127.0.0.1:9876", "';'-separated name servers to find the topic's brokers")
	fl.StringVar(&f.brokerAddr, "broker-addr", "", "ask this broker (host:10911) only, not the route's masters")
	fl.BoolVar(&f.body, "body", false, "print bodies in the text table (json and yaml always carry them)")
	cmd.MarkFlagsMutuallyExclusive("key", "id", "offset-id")
	cmd.MarkFlagsOneRequired("key", "id", "offset-id")
	return cmd
}

// runQuery runs the query f asks for.
func runQuery(ctx context.Context, f queryFlags) ([]queriedMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if f.offsetID != "" {
		return viewByOffsetID(ctx, f.offsetID)
	}
	if f.topic == "" {
		return nil, errors.New("--topic is required with --key and --id")
	}
	if f.max < 1 || f.max > maxQueryResults {
		return nil, fmt.Errorf("--max %d: want 1..%d", f.max, maxQueryResults)
	}
	begin, end := int64(0), int64(math.MaxInt64)
	if f.begin != "" {
		t, err := parseTime(f.begin)
		if err != nil {
			return nil, fmt.Errorf("--begin: %w", err)
		}
		begin = t.UnixMilli()
	}
	if f.end != "" {
		t, err := parseTime(f.end)
		if err != nil {
			return nil, fmt.Errorf("--end: %w", err)
		}
		end = t.UnixMilli()
	}
	brokers := []string{f.brokerAddr}
	if f.brokerAddr == "" {
		var err error
		if brokers, err = topicMasters(ctx, splitAddrs(f.nsAddr), f.topic); err != nil {
			return nil, err
		}
	}
	key, unique := f.key, false
	if f.id != "" {
		key, unique = f.id, true
	}
	var out []queriedMessage
	for _, addr := range brokers {
		ms, err := queryBroker(ctx, addr, f.topic, key, unique, f.max, begin, end)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	slices.SortStableFunc(out, func(a, b queriedMessage) int { return a.StoreTime.Compare(b.StoreTime) })
	return out, nil
}

// topicMasters asks the name servers, one after the other, for topic's
// route and returns the masters of the broker groups holding its queues.
func topicMasters(ctx context.Context, nsAddrs []string, topic string) ([]string, error) {
	if len(nsAddrs) == 0 {
		return nil, errors.New("--namesrv-addr lists no name server")
	}
	var errs []error
	for _, ns := range nsAddrs {
		resp, err := invokeOnce(ctx, ns, remoting.GetRouteinfoByTopic, map[string]string{"topic": topic})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Code == remoting.TopicNotExist {
			return nil, fmt.Errorf("topic %s: no route on name server %s", topic, ns)
		}
		if resp.Code != remoting.Success {
			errs = append(errs, fmt.Errorf("name server %s: GET_ROUTEINFO_BY_TOPIC answered %d: %s", ns, resp.Code, resp.Remark))
			continue
		}
		var route nameserver.TopicRouteData
		if err := json.Unmarshal(resp.Body, &route); err != nil {
			errs = append(errs, fmt.Errorf("name server %s: route of %s: %w", ns, topic, err))
			continue
		}
		var masters []string
		for _, bd := range route.BrokerDatas {
			if a := bd.BrokerAddrs[0]; a != "" {
				masters = append(masters, a)
			}
		}
		if len(masters) == 0 {
			return nil, fmt.Errorf("topic %s: no master in its route", topic)
		}
		slices.Sort(masters)
		return masters, nil
	}
	return nil, errors.Join(errs...)
}

// invokeOnce dials addr, sends one request and closes.
func invokeOnce(ctx context.Context, addr string, code int32, ext map[string]string) (*remoting.Command, error) {
	c, err := nameserver.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	defer c.Close()
	req := remoting.NewRequest(code, 0)
	for k, v := range ext {
		req.ExtFields[k] = v
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return resp, nil
}

// queryBroker sends QUERY_MESSAGE to addr and keeps the messages that
// really carry key (the IndexFile is a hash index: another key may share
// a slot), as Java's admin does.
func queryBroker(ctx context.Context, addr, topic, key string, unique bool, maxN int, begin, end int64) ([]queriedMessage, error) {
	ext := map[string]string{"topic": topic, "key": key, "maxNum": strconv.Itoa(maxN),
		"beginTimestamp": strconv.FormatInt(begin, 10), "endTimestamp": strconv.FormatInt(end, 10)}
	if unique {
		ext["_UNIQUE_KEY_QUERY"] = "true"
	}
	resp, err := invokeOnce(ctx, addr, remoting.QueryMessage, ext)
	if err != nil {
		return nil, err
	}
	if resp.Code == remoting.QueryNotFound {
		return nil, nil
	}
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("%s: QUERY_MESSAGE answered %d: %s", addr, resp.Code, resp.Remark)
	}
	ms, err := decodeMessages(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return slices.DeleteFunc(ms, func(m queriedMessage) bool {
		if m.Topic != topic {
			return true
		}
		if unique {
			return m.MsgID != key
		}
		return !slices.Contains(strings.Fields(m.Keys), key)
	}), nil
}

// viewByOffsetID reads the message an offsetMsgId names from the broker
// it names.
func viewByOffsetID(ctx context.Context, id string) ([]queriedMessage, error) {
	host, off, err := remoting.ParseOffsetMsgID(id)
	if err != nil {
		return nil, fmt.Errorf("--offset-id %q: %w", id, err)
	}
	resp, err := invokeOnce(ctx, host.String(), remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(off, 10)})
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("%s: VIEW_MESSAGE_BY_ID answered %d: %s", host, resp.Code, resp.Remark)
	}
	return decodeMessages(resp.Body)
}

// maxDecodedMessages bounds decodeMessages.
const maxDecodedMessages = 4096

// decodeMessages decodes a body of stored messages.
func decodeMessages(b []byte) ([]queriedMessage, error) {
	var out []queriedMessage
	for len(b) > 0 {
		if len(out) == maxDecodedMessages {
			return nil, fmt.Errorf("more than %d messages in one answer", maxDecodedMessages)
		}
		m, n, err := remoting.DecodeStoredMessage(b)
		if err != nil {
			return nil, fmt.Errorf("message %d of the answer: %w", len(out), err)
		}
		b = b[n:]
		props := remoting.ParseProperties(m.Properties)
		q := queriedMessage{MsgID: props["UNIQ_KEY"], OffsetMsgID: m.OffsetMsgID(), Topic: m.Topic, QueueID: m.QueueID,
			QueueOffset: m.QueueOffset, StoreTime: time.UnixMilli(m.StoreTimestamp).UTC(), BornTime: time.UnixMilli(m.BornTimestamp).UTC(),
			StoreHost: m.StoreHost.String(), Tags: props["TAGS"], Keys: props["KEYS"], BodySize: len(m.Body),
			Body: strings.ToValidUTF8(string(m.Body), string(utf8.RuneError))}
		if q.MsgID == "" {
			q.MsgID = q.OffsetMsgID // as Java's MessageClientExt.getMsgId
		}
		for _, k := range []string{"UNIQ_KEY", "TAGS", "KEYS"} {
			delete(props, k)
		}
		if len(props) > 0 {
			q.Properties = props
		}
		out = append(out, q)
	}
	return out, nil
}

// printQueried prints msgs as a table (bodies only with withBody).
func printQueried(w io.Writer, msgs []queriedMessage, withBody bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := "MSG ID\tOFFSET MSG ID\tTOPIC\tQUEUE\tQUEUE OFFSET\tSTORE TIME\tTAGS\tKEYS\tBODY"
	fmt.Fprintln(tw, head)
	for _, m := range msgs {
		body := strconv.Itoa(m.BodySize) + " B"
		if withBody {
			body = strconv.Quote(m.Body)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", m.MsgID, m.OffsetMsgID, m.Topic, m.QueueID, m.QueueOffset,
			m.StoreTime.Format(time.RFC3339Nano), dash(m.Tags), dash(m.Keys), body)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		_, err := fmt.Fprintln(w, "no message found")
		return err
	}
	return nil
}
