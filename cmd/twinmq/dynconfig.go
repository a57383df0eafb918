package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twinmq/twinmq/internal/atomicfile"
	"github.com/twinmq/twinmq/storage"
)

// Dynamic broker settings: the few that are safe to change while the
// broker runs, through Kafka IncrementalAlterConfigs on the BROKER
// resource, RocketMQ UPDATE_BROKER_CONFIG (25) and `twinmq broker config
// set`. Changes are kept in <dataDir>/dynamic-config.json and, as Kafka's
// dynamic broker configs do, win over the static configuration (file,
// environment, flags) at the next start; deleting one (Kafka's DELETE)
// returns it to the static value. Every other setting is start-only and
// refused with how to change it.

// dynamicConfigFile is the overrides' file under the data directory: a
// JSON object of twinmq key -> value string, rewritten whole (atomicfile).
const dynamicConfigFile = "dynamic-config.json"

// dynamicSetting is one setting that may change at run time.
type dynamicSetting struct {
	key     string   // twinmq's name (the configuration key)
	aliases []string // Kafka's and RocketMQ's names for the same setting
	// parse checks a value; apply sets a checked one.
	parse func(v string) (any, error)
	apply func(v any) error
}

// dynamicConfig holds the settings and their overrides. mu guards
// overrides and the file, and serializes updates.
type dynamicConfig struct {
	path     string
	log      *slog.Logger
	settings map[string]*dynamicSetting // by key and by alias
	static   map[string]string          // key -> the static configuration's value

	mu        sync.Mutex
	overrides map[string]string
}

// openDynamicConfig builds the dynamic settings of a broker over st and
// lv (the log level; nil: not settable), and applies the overrides kept
// in dir. A file that does not parse, or that holds a key or a value
// that is not valid, stops the start: an operator's change must not be
// dropped silently.
func openDynamicConfig(dir string, cfg Config, st *storage.Store, lv *slog.LevelVar, logger *slog.Logger) (*dynamicConfig, error) {
	d := &dynamicConfig{path: filepath.Join(dir, dynamicConfigFile), log: logger, settings: map[string]*dynamicSetting{},
		static: map[string]string{}, overrides: map[string]string{}}
	d.add(&dynamicSetting{key: "flushIntervalMs", aliases: []string{"log.flush.interval.ms", "flushIntervalCommitLog"},
		parse: func(v string) (any, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n <= 0 || n > int64(time.Hour/time.Millisecond) {
				return nil, fmt.Errorf("flushIntervalMs %q: want milliseconds in 1..3600000", v)
			}
			return time.Duration(n) * time.Millisecond, nil
		},
		apply: func(v any) error { return st.SetFlushInterval(v.(time.Duration)) },
	}, strconv.Itoa(cfg.FlushIntervalMs))
	// The CommitLog's size cap: Kafka's log.retention.bytes is per
	// partition (each topic's retention.bytes) and RocketMQ has no size
	// cap, so only twinmq's name.
	d.add(&dynamicSetting{key: "retentionBytes",
		parse: func(v string) (any, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < -1 {
				return nil, fmt.Errorf("retentionBytes %q: want a size in bytes, or -1 for no cap", v)
			}
			return n, nil
		},
		apply: func(v any) error { return st.SetRetentionBytes(v.(int64)) },
	}, strconv.FormatInt(cmp.Or(cfg.RetentionBytes, -1), 10))
	if lv != nil {
		d.add(&dynamicSetting{key: "logLevel",
			parse: func(v string) (any, error) {
				var l slog.Level
				if err := l.UnmarshalText([]byte(strings.TrimSpace(v))); err != nil {
					return nil, fmt.Errorf("logLevel %q: want debug, info, warn or error", v)
				}
				return l, nil
			},
			apply: func(v any) error { lv.Set(v.(slog.Level)); return nil },
		}, cfg.LogLevel)
	}
	b, err := os.ReadFile(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dynamic config: %w", err)
	}
	var saved map[string]string
	if err := json.Unmarshal(b, &saved); err != nil {
		return nil, fmt.Errorf("dynamic config %s: %w", d.path, err)
	}
	for _, k := range slices.Sorted(maps.Keys(saved)) {
		s := d.settings[k]
		if s == nil || s.key != k {
			return nil, fmt.Errorf("dynamic config %s: %q is not a setting that can change at run time", d.path, k)
		}
		v, err := s.parse(saved[k])
		if err == nil {
			err = s.apply(v)
		}
		if err != nil {
			return nil, fmt.Errorf("dynamic config %s: %w", d.path, err)
		}
		d.overrides[k] = saved[k]
		logger.Info("dynamic setting applied over the static configuration", "key", k, "value", saved[k], "static", d.static[k])
	}
	return d, nil
}

// add registers s, whose static value is static.
func (d *dynamicConfig) add(s *dynamicSetting, static string) {
	d.settings[s.key] = s
	for _, a := range s.aliases {
		d.settings[a] = s
	}
	d.static[s.key] = static
}

// Dynamic reports whether key names a setting that can change at run
// time (kafkaapi.BrokerConfigUpdater, remotingapi.ConfigUpdater).
func (d *dynamicConfig) Dynamic(key string) bool { return d.settings[key] != nil }

// Update sets set and returns deleted to their static values: every value
// is checked first, then the overrides are written, then applied; with
// validateOnly nothing changes.
func (d *dynamicConfig) Update(_ context.Context, set map[string]string, deleted []string, validateOnly bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := maps.Clone(d.overrides)
	type change struct {
		s *dynamicSetting
		v any
	}
	var changes []change
	for _, name := range slices.Sorted(maps.Keys(set)) {
		s := d.settings[name]
		if s == nil {
			return fmt.Errorf("%s cannot change while the broker runs", name)
		}
		v, err := s.parse(set[name])
		if err != nil {
			return err
		}
		next[s.key] = set[name]
		changes = append(changes, change{s, v})
	}
	for _, name := range deleted {
		s := d.settings[name]
		if s == nil {
			return fmt.Errorf("%s cannot change while the broker runs", name)
		}
		v, err := s.parse(d.static[s.key])
		if err != nil {
			return err
		}
		delete(next, s.key)
		changes = append(changes, change{s, v})
	}
	if validateOnly {
		return nil
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.path, b); err != nil {
		return fmt.Errorf("keeping the change: %w", err)
	}
	d.overrides = next
	for _, c := range changes {
		if err := c.s.apply(c.v); err != nil {
			return err
		}
	}
	d.log.Info("dynamic settings changed", "set", set, "deleted", deleted)
	return nil
}

// rocketmqUpdater is the dynamic settings as remotingapi.ConfigUpdater:
// UPDATE_BROKER_CONFIG only sets.
type rocketmqUpdater struct{ d *dynamicConfig }

func (u rocketmqUpdater) Dynamic(key string) bool { return u.d.Dynamic(key) }

func (u rocketmqUpdater) Update(ctx context.Context, set map[string]string) error {
	return u.d.Update(ctx, set, nil, false)
}
