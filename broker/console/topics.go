package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/topics"
)

// TopicSummary is one row of the topics page.
type TopicSummary struct {
	Name     string `json:"name"`
	Queues   int32  `json:"queues"`
	Messages int64  `json:"messages"` // stored now: sum of end - start
	EndSum   int64  `json:"endOffsets"`
	Internal bool   `json:"internal"`
	Perm     int32  `json:"perm"`
	Kind     string `json:"kind"` // "topic", "retry", "dlq", "system"
}

// QueueView is one queue (partition) of a topic.
type QueueView struct {
	Queue int32 `json:"partition"`
	Start int64 `json:"start"`
	End   int64 `json:"end"`
	Bytes int64 `json:"bytes"` // -1: unknown
}

// ConfigView is one topic config as Kafka's DescribeConfigs reports it.
type ConfigView struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	ReadOnly  bool   `json:"readOnly"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// TopicView is the topic page.
type TopicView struct {
	TopicSummary
	ID      string       `json:"id"`
	Created int64        `json:"createdMs"`
	Queue   []QueueView  `json:"partitions"`
	Configs []ConfigView `json:"configs"`
	Groups  []string     `json:"groups"` // groups with committed offsets on it
}

func topicKind(name string) string {
	switch {
	case strings.HasPrefix(name, "%RETRY%"):
		return "retry"
	case strings.HasPrefix(name, "%DLQ%"):
		return "dlq"
	case strings.HasPrefix(name, topics.InternalPrefix), strings.HasPrefix(name, "rmq_sys_"),
		name == "SCHEDULE_TOPIC_XXXX", name == "TBW102", strings.HasPrefix(name, "RMQ_SYS_"):
		return "system"
	}
	return "topic"
}

// queueRange is [start, end) of a queue as readers see it; a queue never
// written is (0, 0).
func (s *Server) queueRange(topic string, q int32) (int64, int64, error) {
	start, end, err := s.logs.Range(topic, q)
	if errors.Is(err, log.ErrQueueNotFound) {
		return 0, 0, nil
	}
	return start, end, err
}

func (s *Server) summary(c topics.Config) TopicSummary {
	t := TopicSummary{Name: c.Name, Queues: c.Queues, Internal: c.Internal, Perm: c.Perm, Kind: topicKind(c.Name)}
	for q := range c.Queues {
		if start, end, err := s.queueRange(c.Name, q); err == nil {
			t.Messages += end - start
			t.EndSum += end
		}
	}
	return t
}

// listTopics: GET /api/topics[?q=substring]. Every topic of the registry,
// sorted by name, with its stored message count.
func (s *Server) listTopics(r *http.Request) (any, error) {
	filter := r.URL.Query().Get("q")
	all := s.cfg.Topics.List()
	slices.SortFunc(all, func(a, b topics.Config) int { return strings.Compare(a.Name, b.Name) })
	out := make([]TopicSummary, 0, len(all))
	for _, c := range all {
		if filter != "" && !strings.Contains(c.Name, filter) {
			continue
		}
		out = append(out, s.summary(c))
	}
	return out, nil
}

// describeTopic: GET /api/topics/{topic}: queues with offsets and sizes
// (DescribeLogDirs), configs (DescribeConfigs), the groups that consume it.
func (s *Server) describeTopic(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	c, ok := s.cfg.Topics.Get(name)
	if !ok {
		return nil, fmt.Errorf("%w: topic %s", ErrNotFound, name)
	}
	v := TopicView{TopicSummary: s.summary(c), ID: fmt.Sprintf("%x", c.ID), Created: c.CreatedMs,
		Queue: []QueueView{}, Configs: []ConfigView{}, Groups: []string{}}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	sizes := s.partitionSizes(ctx, name)
	for q := range c.Queues {
		start, end, err := s.queueRange(name, q)
		if err != nil {
			return nil, err
		}
		b, ok := sizes[q]
		if !ok {
			b = -1
		}
		v.Queue = append(v.Queue, QueueView{Queue: q, Start: start, End: end, Bytes: b})
	}
	cfgs, err := s.topicConfigs(ctx, name)
	if err != nil && !errors.Is(err, ErrOffline) {
		return nil, err
	}
	v.Configs = append(v.Configs, cfgs...)
	seen := map[string]bool{}
	for _, e := range s.cfg.Offsets.List("", name) {
		if !seen[e.Group] {
			seen[e.Group] = true
			v.Groups = append(v.Groups, e.Group)
		}
	}
	slices.Sort(v.Groups)
	return v, nil
}

// partitionSizes asks the Kafka adapter for the topic's partition sizes
// (DescribeLogDirs, key 35); none when it does not run.
func (s *Server) partitionSizes(ctx context.Context, topic string) map[int32]int64 {
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil
	}
	req := kmsg.NewPtrDescribeLogDirsRequest()
	rt := kmsg.NewDescribeLogDirsRequestTopic()
	rt.Topic = topic
	c, _ := s.cfg.Topics.Get(topic)
	for q := range c.Queues {
		rt.Partitions = append(rt.Partitions, q)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	for _, d := range resp.(*kmsg.DescribeLogDirsResponse).Dirs {
		for _, t := range d.Topics {
			if t.Topic != topic {
				continue
			}
			for _, p := range t.Partitions {
				out[p.Partition] += p.Size
			}
		}
	}
	return out
}

// topicConfigs is DescribeConfigs (key 32) of a topic.
func (s *Server) topicConfigs(ctx context.Context, topic string) ([]ConfigView, error) {
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, res)
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	var out []ConfigView
	for _, rr := range resp.(*kmsg.DescribeConfigsResponse).Resources {
		if err := kafkaError(rr.ErrorCode, rr.ErrorMessage); err != nil {
			return nil, err
		}
		for _, c := range rr.Configs {
			cv := ConfigView{Name: c.Name, Source: c.Source.String(), ReadOnly: c.ReadOnly, Sensitive: c.IsSensitive}
			if c.Value != nil {
				cv.Value = *c.Value
			}
			out = append(out, cv)
		}
	}
	slices.SortFunc(out, func(a, b ConfigView) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// kafkaError is an adapter's error code as an error (nil for none), with
// the HTTP status a user expects.
func kafkaError(code int16, msg *string) error {
	if code == 0 {
		return nil
	}
	ke := kerr.ErrorForCode(code)
	status := http.StatusBadRequest
	var e *kerr.Error
	if errors.As(ke, &e) {
		switch e {
		case kerr.TopicAlreadyExists:
			status = http.StatusConflict
		case kerr.UnknownTopicOrPartition, kerr.GroupIDNotFound, kerr.UnknownTopicID:
			status = http.StatusNotFound
		case kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.RebalanceInProgress, kerr.NonEmptyGroup,
			kerr.GroupSubscribedToTopic, kerr.FencedMemberEpoch, kerr.StaleMemberEpoch:
			status = http.StatusConflict
		case kerr.NotController, kerr.NotCoordinator, kerr.CoordinatorNotAvailable, kerr.RequestTimedOut:
			status = http.StatusServiceUnavailable
		case kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed:
			status = http.StatusForbidden
		}
		text := e.Description
		if msg != nil && *msg != "" {
			text = *msg
		}
		return &protocolError{status: status, code: e.Message, msg: text}
	}
	return &protocolError{status: status, code: fmt.Sprintf("KAFKA_ERROR_%d", code), msg: ke.Error()}
}

// createTopicBody is POST /api/topics.
type createTopicBody struct {
	Name       string            `json:"name"`
	Partitions int32             `json:"partitions"` // 0: the broker's default
	Configs    map[string]string `json:"configs"`
}

// createTopic: POST /api/topics, as Kafka's CreateTopics (key 19).
func (s *Server) createTopic(r *http.Request) (any, error) {
	var body createTopicBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if body.Name == "" {
		return nil, fmt.Errorf("%w: name is required", ErrBadRequest)
	}
	if body.Partitions < 0 || body.Partitions > topics.MaxQueues {
		return nil, fmt.Errorf("%w: partitions %d out of range", ErrBadRequest, body.Partitions)
	}
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = int32(requestTimeout.Milliseconds())
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic, t.NumPartitions, t.ReplicationFactor = body.Name, -1, -1
	if body.Partitions > 0 {
		t.NumPartitions = body.Partitions
	}
	for _, n := range sortedKeys(body.Configs) {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = n, ptr(body.Configs[n])
		t.Configs = append(t.Configs, c)
	}
	req.Topics = append(req.Topics, t)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	ts := resp.(*kmsg.CreateTopicsResponse).Topics
	if len(ts) != 1 {
		return nil, fmt.Errorf("console: CreateTopics answered %d topics for 1", len(ts))
	}
	if err := kafkaError(ts[0].ErrorCode, ts[0].ErrorMessage); err != nil {
		return nil, err
	}
	s.log.Info("console: topic created", "topic", body.Name, "partitions", ts[0].NumPartitions, "remote", r.RemoteAddr)
	return map[string]any{"name": ts[0].Topic, "partitions": ts[0].NumPartitions}, nil
}

// alterTopicBody is PATCH /api/topics/{topic}: configs to set (a null
// value deletes the topic's own value) and, optionally, more partitions.
type alterTopicBody struct {
	Configs    map[string]*string `json:"configs"`
	Partitions int32              `json:"partitions"` // 0: unchanged
}

// alterTopic: PATCH /api/topics/{topic}, as IncrementalAlterConfigs (44)
// and CreatePartitions (37).
func (s *Server) alterTopic(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	var body alterTopicBody
	if err := decodeBody(r, &body); err != nil {
		return nil, err
	}
	if len(body.Configs) == 0 && body.Partitions == 0 {
		return nil, fmt.Errorf("%w: nothing to change: give configs or partitions", ErrBadRequest)
	}
	if body.Partitions < 0 || body.Partitions > topics.MaxQueues {
		return nil, fmt.Errorf("%w: partitions %d out of range", ErrBadRequest, body.Partitions)
	}
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	if len(body.Configs) > 0 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		res := kmsg.NewIncrementalAlterConfigsRequestResource()
		res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, name
		for _, n := range sortedKeys(body.Configs) {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Value, c.Op = n, body.Configs[n], kmsg.IncrementalAlterConfigOpSet
			if c.Value == nil {
				c.Op = kmsg.IncrementalAlterConfigOpDelete
			}
			res.Configs = append(res.Configs, c)
		}
		req.Resources = append(req.Resources, res)
		resp, err := k.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, rr := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
			if err := kafkaError(rr.ErrorCode, rr.ErrorMessage); err != nil {
				return nil, err
			}
		}
	}
	if body.Partitions > 0 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = int32(requestTimeout.Milliseconds())
		t := kmsg.NewCreatePartitionsRequestTopic()
		t.Topic, t.Count = name, body.Partitions
		req.Topics = append(req.Topics, t)
		resp, err := k.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, rt := range resp.(*kmsg.CreatePartitionsResponse).Topics {
			if err := kafkaError(rt.ErrorCode, rt.ErrorMessage); err != nil {
				return nil, err
			}
		}
	}
	s.log.Info("console: topic altered", "topic", name, "configs", len(body.Configs), "partitions", body.Partitions, "remote", r.RemoteAddr)
	return map[string]any{"name": name, "altered": true}, nil
}

// deleteTopic: DELETE /api/topics/{topic}, as DeleteTopics (key 20).
func (s *Server) deleteTopic(r *http.Request) (any, error) {
	name := r.PathValue("topic")
	k, err := s.kafkaAdmin()
	if err != nil {
		return nil, err
	}
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = int32(requestTimeout.Milliseconds())
	req.TopicNames = []string{name}
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = ptr(name)
	req.Topics = append(req.Topics, t)
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	resp, err := k.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, rt := range resp.(*kmsg.DeleteTopicsResponse).Topics {
		if err := kafkaError(rt.ErrorCode, rt.ErrorMessage); err != nil {
			return nil, err
		}
	}
	s.log.Info("console: topic deleted", "topic", name, "remote", r.RemoteAddr)
	return map[string]any{"name": name, "deleted": true}, nil
}

func ptr[T any](v T) *T { return &v }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
