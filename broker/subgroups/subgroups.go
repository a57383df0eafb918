// Package subgroups keeps RocketMQ's subscription-group configs
// (SubscriptionGroupConfig.java): what UPDATE_AND_CREATE_SUBSCRIPTIONGROUP
// (200) writes, DELETE_SUBSCRIPTIONGROUP (207) removes and
// GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) lists, and what the broker then
// enforces where Java's does: consumeEnable refuses pulls (NO_PERMISSION),
// retryMaxTimes is a send-back's maximum reconsume times when the request
// names none, brokerId and whichBrokerWhenConsumeSlowly are the pull's
// suggested broker when slave reads are on.
//
// A group without a stored config behaves as one with Default's values, as
// Java's autoCreateSubscriptionGroup (on by default) makes it: twinmq
// never refuses a group for having no config.
//
// The configs are records of the internal topic __twinmq_subscription_groups
// (package kvlog, one record per group: the config as JSON, Java's field
// names), so they survive restarts and replicate to slaves with the
// CommitLog (docs/design.md section 3). A slave's table follows its
// master's and refuses writes until Promote.
package subgroups

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// Topic is the internal topic holding the configs.
const Topic = "__twinmq_subscription_groups"

// MaxGroupLen is TopicValidator.GROUP_MAX_LENGTH: a group name is part of
// its %RETRY% and %DLQ% topic names.
const MaxGroupLen = 120

// maxConfigBytes bounds one encoded config (a body is at most a remoting
// frame; a config is a few hundred bytes, attributes and subscriptions
// included).
const maxConfigBytes = 64 << 10

// Errors of the package.
var (
	// ErrInvalid marks a config the broker refuses (INVALID_PARAMETER).
	ErrInvalid = errors.New("subgroups: invalid config")
	// ErrFollower refuses a write on a slave.
	ErrFollower = kvlog.ErrFollower
)

// Config is SubscriptionGroupConfig.java, Java's field names. Fields
// twinmq keeps without acting on them (groupRetryPolicy,
// subscriptionDataSet, attributes ...) are kept as sent and reported back.
type Config struct {
	GroupName                      string            `json:"groupName"`
	ConsumeEnable                  bool              `json:"consumeEnable"`
	ConsumeFromMinEnable           bool              `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool              `json:"consumeBroadcastEnable"`
	ConsumeMessageOrderly          bool              `json:"consumeMessageOrderly"`
	RetryQueueNums                 int32             `json:"retryQueueNums"`
	RetryMaxTimes                  int32             `json:"retryMaxTimes"`
	GroupRetryPolicy               json.RawMessage   `json:"groupRetryPolicy,omitempty"`
	BrokerID                       int64             `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64             `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIDsChangedEnable bool              `json:"notifyConsumerIdsChangedEnable"`
	GroupSysFlag                   int32             `json:"groupSysFlag"`
	ConsumeTimeoutMinute           int32             `json:"consumeTimeoutMinute"`
	SubscriptionDataSet            json.RawMessage   `json:"subscriptionDataSet,omitempty"`
	Attributes                     map[string]string `json:"attributes"`
}

// Default is the config of a group nobody configured: Java's field
// initializers.
func Default(group string) Config {
	return Config{GroupName: group, ConsumeEnable: true, ConsumeFromMinEnable: true, ConsumeBroadcastEnable: true,
		RetryQueueNums: 1, RetryMaxTimes: 16, WhichBrokerWhenConsumeSlowly: 1, NotifyConsumerIDsChangedEnable: true,
		ConsumeTimeoutMinute: 15, Attributes: map[string]string{},
		GroupRetryPolicy: json.RawMessage(`{"type":"CUSTOMIZED"}`)}
}

// Decode reads a request body as Java's RemotingSerializable.decode does:
// fields it lacks keep Default's values, unknown fields are ignored. The
// group name must be valid (TopicValidator.validateGroup).
func Decode(body []byte) (Config, error) {
	if len(body) > maxConfigBytes {
		return Config{}, invalid("%d bytes", len(body))
	}
	var probe struct {
		GroupName string `json:"groupName"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Config{}, invalid("%v", err)
	}
	c := Default(probe.GroupName)
	if err := json.Unmarshal(body, &c); err != nil {
		return Config{}, invalid("%v", err)
	}
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	if err := ValidGroup(c.GroupName); err != nil {
		return Config{}, err
	}
	if c.RetryMaxTimes < -1 || c.RetryQueueNums < 0 {
		return Config{}, invalid("retryMaxTimes %d, retryQueueNums %d", c.RetryMaxTimes, c.RetryQueueNums)
	}
	return c, nil
}

// ValidGroup is TopicValidator.validateGroup: not blank, only
// [%|a-zA-Z0-9_-], at most MaxGroupLen bytes; the error's text is Java's
// remark.
func ValidGroup(g string) error {
	if len(bytes.TrimSpace([]byte(g))) == 0 {
		return invalid("The specified group is blank.")
	}
	for i := 0; i < len(g); i++ {
		c := g[i]
		if !(c == '%' || c == '|' || c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return invalid("The specified group: %s, contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$", g)
		}
	}
	if len(g) > MaxGroupLen {
		return invalid("The specified group: %s, is longer than group max length: %d", g, MaxGroupLen)
	}
	return nil
}

// Table is the configs. Safe for concurrent use: mu guards m, the decoded
// configs, which the writer updates after its kvlog write and a follower
// from the records its master wrote.
type Table struct {
	kv  *kvlog.Log
	log *slog.Logger

	mu sync.RWMutex
	m  map[string]Config
}

// Open replays the table from store; follow opens a slave's follower.
func Open(ctx context.Context, store *storage.Store, follow bool, logger *slog.Logger) (*Table, error) {
	if logger == nil {
		logger = slog.Default()
	}
	t := &Table{log: logger, m: map[string]Config{}}
	opt := kvlog.Options{Topic: Topic, Logger: logger}
	if follow {
		opt.Follow, opt.OnChange = true, t.apply
	}
	kv, err := kvlog.Open(ctx, store, opt)
	if err != nil {
		return nil, fmt.Errorf("subgroups: %w", err)
	}
	t.kv = kv
	if !follow {
		for k, v := range kv.Snapshot() {
			t.apply(k, v, false)
		}
	}
	return t, nil
}

// apply installs one record (a follower's OnChange, and Open's replay). A
// record that does not decode is logged and skipped: one bad config must
// not stop the broker.
func (t *Table) apply(group string, value []byte, deleted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if deleted {
		delete(t.m, group)
		return
	}
	c := Default(group)
	if err := json.Unmarshal(value, &c); err != nil {
		t.log.Warn("subgroups: skipping a config that does not decode", "group", group, "err", err)
		return
	}
	t.m[group] = c
}

// Get returns group's stored config, or Default(group) and false.
func (t *Table) Get(group string) (Config, bool) {
	t.mu.RLock()
	c, ok := t.m[group]
	t.mu.RUnlock()
	if !ok {
		return Default(group), false
	}
	return c, true
}

// List returns the stored configs by group name.
func (t *Table) List() []Config {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]Config, 0, len(t.m))
	for _, g := range slices.Sorted(maps.Keys(t.m)) {
		out = append(out, t.m[g])
	}
	return out
}

// Put stores c (creating or replacing the group's config) once it is
// durable as the store acknowledges writes.
func (t *Table) Put(ctx context.Context, c Config) error {
	if err := ValidGroup(c.GroupName); err != nil {
		return err
	}
	v, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("subgroups: %w", err)
	}
	if err := t.kv.Put(ctx, c.GroupName, v); err != nil {
		return fmt.Errorf("subgroups: put %s: %w", c.GroupName, err)
	}
	t.apply(c.GroupName, v, false)
	t.log.Info("subscription group config stored", "group", c.GroupName, "consumeEnable", c.ConsumeEnable, "retryMaxTimes", c.RetryMaxTimes)
	return nil
}

// Delete removes group's config; it reports whether there was one.
func (t *Table) Delete(ctx context.Context, group string) (bool, error) {
	if _, ok := t.Get(group); !ok {
		return false, nil
	}
	if err := t.kv.Delete(ctx, group); err != nil {
		return false, fmt.Errorf("subgroups: delete %s: %w", group, err)
	}
	t.apply(group, nil, true)
	return true, nil
}

// Promote turns a slave's follower into the writer (failover).
func (t *Table) Promote(ctx context.Context) error {
	if err := t.kv.Promote(ctx); err != nil {
		return fmt.Errorf("subgroups: %w", err)
	}
	return nil
}

// Close stops the table.
func (t *Table) Close() { t.kv.Close() }

// invalidError is an ErrInvalid refusal with the remark Java's broker
// answers.
type invalidError struct{ remark string }

func (e *invalidError) Error() string        { return ErrInvalid.Error() + ": " + e.remark }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, a ...any) error { return &invalidError{fmt.Sprintf(format, a...)} }

// Remark is the text of a refusal as Java's remark words it: an
// ErrInvalid's remark, else err's message.
func Remark(err error) string {
	var ie *invalidError
	if errors.As(err, &ie) {
		return ie.remark
	}
	return err.Error()
}
