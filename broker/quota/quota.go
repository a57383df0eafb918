// Package quota is Kafka's client quotas (KIP-13, KIP-55, KIP-546): byte
// rates per user and client id, stored durably, and the meter that turns
// a client's traffic into a throttle time. It does no I/O on the request
// path: Throttle is a pure computation over the samples of a window.
//
// An entity is a user, a client id, or both; each name may be the default
// ("<default>" in kafka-configs, a null name on the wire). A client's quota
// for a key is the first of, in this order (Kafka's precedence):
//
//	user=U, client-id=C    user=U, client-id=<default>    user=U
//	user=<default>, client-id=C    user=<default>, client-id=<default>
//	user=<default>    client-id=C    client-id=<default>
package quota

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twinmq/twinmq/broker/auth"
)

// Quota keys twinmq enforces; the others Kafka knows are stored only.
const (
	ProducerByteRate = "producer_byte_rate"
	ConsumerByteRate = "consumer_byte_rate"
)

var knownKeys = map[string]bool{ProducerByteRate: true, ConsumerByteRate: true,
	"request_percentage": true, "controller_mutation_rate": true}

// Entity types.
const (
	User     = "user"
	ClientID = "client-id"
)

// ErrInvalid marks a quota entity, key or value Kafka would refuse.
var ErrInvalid = errors.New("quota: invalid")

// Component is one part of an entity: a type and a name (nil: the default).
type Component struct {
	Type string  `json:"type"`
	Name *string `json:"name"`
}

// Entry is an entity and its quotas.
type Entry struct {
	Entity []Component        `json:"entity"`
	Values map[string]float64 `json:"values"`
}

// File is the quotas file in the data directory.
//
// Layout, version 1 (JSON): {"version": 1, "entries": [{"entity":
// [{"type": "user", "name": "alice"}], "values": {"producer_byte_rate":
// 1048576}}]}. Replaced atomically (auth.WriteFileAtomic).
const File = "quotas.json"

type file struct {
	Version int     `json:"version"`
	Entries []Entry `json:"entries"`
}

// Store holds the quotas and the meters. Safe for concurrent use: mu
// guards entries and meters.
type Store struct {
	dir     string
	mu      sync.Mutex
	entries map[string]Entry // by key(entity)
	meters  map[string]*meter
}

// Open loads the quotas of data directory dir ("": in memory only).
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir, entries: map[string]Entry{}, meters: map[string]*meter{}}
	if dir == "" {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, File))
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	var f file
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("quota: %s: corrupt (version %d): %v", File, f.Version, err)
	}
	for _, e := range f.Entries {
		k, err := key(e.Entity)
		if err != nil {
			return nil, fmt.Errorf("quota: %s: %w", File, err)
		}
		s.entries[k] = e
	}
	return s, nil
}

// key is an entity's canonical form ("client-id=c;user=u", "user=" for
// the default user); the entity must name each type at most once.
func key(entity []Component) (string, error) {
	if len(entity) == 0 || len(entity) > 2 {
		return "", fmt.Errorf("%w: entity of %d components", ErrInvalid, len(entity))
	}
	parts := make([]string, 0, 2)
	seen := map[string]bool{}
	for _, c := range entity {
		if c.Type != User && c.Type != ClientID || seen[c.Type] {
			return "", fmt.Errorf("%w: entity type %q", ErrInvalid, c.Type)
		}
		seen[c.Type] = true
		name := "\x00" // the default
		if c.Name != nil {
			name = *c.Name
		}
		parts = append(parts, c.Type+"="+name)
	}
	slices.Sort(parts)
	return strings.Join(parts, ";"), nil
}

// Op sets (Remove false) or removes a quota key.
type Op struct {
	Key    string
	Value  float64
	Remove bool
}

// Alter applies ops to entity; with validateOnly it only checks them.
func (s *Store) Alter(entity []Component, ops []Op, validateOnly bool) error {
	k, err := key(entity)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if !knownKeys[op.Key] {
			return fmt.Errorf("%w: unknown quota key %q", ErrInvalid, op.Key)
		}
		if !op.Remove && !(op.Value > 0 && !math.IsInf(op.Value, 1)) {
			return fmt.Errorf("%w: %s must be a positive number, not %v", ErrInvalid, op.Key, op.Value)
		}
	}
	if validateOnly {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	next := Entry{Entity: entity, Values: map[string]float64{}}
	for kk, v := range s.entries[k].Values {
		next.Values[kk] = v
	}
	for _, op := range ops {
		if op.Remove {
			delete(next.Values, op.Key)
		} else {
			next.Values[op.Key] = op.Value
		}
	}
	old, had := s.entries[k]
	if len(next.Values) == 0 {
		delete(s.entries, k)
	} else {
		s.entries[k] = next
	}
	if err := s.saveLocked(); err != nil {
		if had {
			s.entries[k] = old
		} else {
			delete(s.entries, k)
		}
		return err
	}
	return nil
}

func (s *Store) saveLocked() error {
	if s.dir == "" {
		return nil
	}
	f := file{Version: 1}
	for _, k := range slices.Sorted(mapsKeys(s.entries)) {
		f.Entries = append(f.Entries, s.entries[k])
	}
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	return auth.WriteFileAtomic(filepath.Join(s.dir, File), b, 0o644)
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Match is a DescribeClientQuotas filter component: Exact (Name), Default,
// or Any (any name of the type, the default included).
type Match struct {
	Type string
	Kind int8 // 0 exact, 1 default, 2 any: the wire's match_type
	Name string
}

// Describe returns the entries the filter selects (KIP-546): every
// component must match one of the entry's; with strict the entry may have
// no other component.
func (s *Store) Describe(filter []Match, strict bool) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Entry
	for _, k := range slices.Sorted(mapsKeys(s.entries)) {
		e := s.entries[k]
		if strict && len(e.Entity) != len(filter) {
			continue
		}
		ok := true
		for _, m := range filter {
			i := slices.IndexFunc(e.Entity, func(c Component) bool { return c.Type == m.Type })
			switch {
			case i < 0:
				ok = false
			case m.Kind == 0:
				ok = ok && e.Entity[i].Name != nil && *e.Entity[i].Name == m.Name
			case m.Kind == 1:
				ok = ok && e.Entity[i].Name == nil
			}
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}

// Active says whether any quota is set (metering costs nothing otherwise).
func (s *Store) Active() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries) > 0
}

// resolveLocked is the quota of (user, clientID) for qkey in Kafka's
// precedence, and the entity it comes from.
func (s *Store) resolveLocked(user, clientID, qkey string) (float64, string, bool) {
	u, c, d := "user="+user, "client-id="+clientID, "\x00"
	for _, k := range []string{
		c + ";" + u, "client-id=" + d + ";" + u, u,
		c + ";user=" + d, "client-id=" + d + ";user=" + d, "user=" + d,
		c, "client-id=" + d,
	} {
		if v, ok := s.entries[k].Values[qkey]; ok {
			return v, k, true
		}
	}
	return 0, "", false
}

// Throttle records bytes of qkey traffic (ProducerByteRate,
// ConsumerByteRate) by user (the principal's name) and client id at now,
// and returns how long the client must wait for its rate over the window
// to come back within its quota (0: no quota, or within it). Clients of
// an entity share one meter, as in Kafka.
func (s *Store) Throttle(user, clientID, qkey string, bytes int, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, ent, ok := s.resolveLocked(user, clientID, qkey)
	if !ok {
		return 0
	}
	// The meter is the matched entity's with the client's own names in
	// place of the defaults: a user's quota is shared by all its clients,
	// the default user's applies to each user on its own.
	mk := qkey
	if strings.Contains(ent, "user=") {
		mk += "|user=" + user
	}
	if strings.Contains(ent, "client-id=") {
		mk += "|client-id=" + clientID
	}
	m := s.meters[mk]
	if m == nil {
		m = &meter{}
		s.meters[mk] = m
	}
	return m.record(now, float64(bytes), q)
}

// The window, as Kafka's defaults: quota.window.num 11 samples of
// quota.window.size.seconds 1.
const (
	samples    = 11
	sampleSize = time.Second
	// MaxThrottle is the longest throttle Kafka hands out: the window.
	MaxThrottle = samples * sampleSize
)

// meter is a rate over the last samples (Kafka's Rate with SampledStat).
type meter struct {
	start [samples]time.Time
	bytes [samples]float64
	cur   int
}

// record adds n bytes at now and returns the throttle for quota (bytes
// per second): (rate - quota) / quota * elapsed, which is how long the
// client must stay silent for its rate over the window to be the quota;
// the elapsed time counts at least samples-1 full samples, so a client's
// first burst is measured over the window, not over its first millisecond.
func (m *meter) record(now time.Time, n, quota float64) time.Duration {
	if m.start[m.cur].IsZero() || now.Sub(m.start[m.cur]) >= sampleSize {
		m.cur = (m.cur + 1) % samples
		m.start[m.cur], m.bytes[m.cur] = now, 0
	}
	m.bytes[m.cur] += n
	var total float64
	oldest := now
	for i := range m.start {
		if !m.start[i].IsZero() && now.Sub(m.start[i]) < MaxThrottle {
			total += m.bytes[i]
			if m.start[i].Before(oldest) {
				oldest = m.start[i]
			}
		}
	}
	elapsed := max(now.Sub(oldest), (samples-1)*sampleSize)
	rate := total / elapsed.Seconds()
	if rate <= quota {
		return 0
	}
	return min(time.Duration((rate-quota)/quota*float64(elapsed)), MaxThrottle)
}
