// Package broker holds what every broker service and adapter shares: the
// broker's identity (node id, cluster id), persisted in the store so that
// it survives restarts. The services live in the sub-packages (topics,
// kafkaapi, ...).
//
// A slave's store holds its master's CommitLog, identity record included,
// and must not be written: ReadIdentity is LoadIdentity for a slave. It
// writes nothing, follows the replicated record (the master's cluster id)
// and takes the node id from configuration; Promote makes it the writer
// of the record, as LoadIdentity is, when the slave becomes the master.
package broker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/big"

	"github.com/twinmq/twinmq/broker/kvlog"
	"github.com/twinmq/twinmq/storage"
)

// IdentityTopic holds the broker's identity record.
const IdentityTopic = "__twinmq_broker"

const identityKey = "identity"

// Identity names this broker.
type Identity struct {
	// NodeID is the Kafka broker id (also the RocketMQ brokerId's peer
	// number). Never 0 when generated: kafka-go's tests reject node 0.
	NodeID int32
	// ClusterID is a Kafka cluster id (22 base64url characters).
	ClusterID string
}

// LoadIdentity returns the persisted identity, creating it on first start.
// wantNodeID >= 0 pins the node id (and replaces a persisted one, logged);
// negative keeps the persisted one or draws a random id in 1..9999. Call
// stop when the broker stops: until then the record is compacted
// periodically so CommitLog retention never drops it.
func LoadIdentity(ctx context.Context, store *storage.Store, wantNodeID int32, logger *slog.Logger) (id Identity, stop func(), err error) {
	id, kv, err := loadIdentity(ctx, store, wantNodeID, logger)
	if err != nil {
		return Identity{}, nil, err
	}
	return id, kv.Close, nil
}

func loadIdentity(ctx context.Context, store *storage.Store, wantNodeID int32, logger *slog.Logger) (Identity, *kvlog.Log, error) {
	if logger == nil {
		logger = slog.Default()
	}
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: IdentityTopic, Logger: logger})
	if err != nil {
		return Identity{}, nil, fmt.Errorf("broker: identity: %w", err)
	}
	id, err := persistIdentity(ctx, kv, wantNodeID, nil, logger)
	if err != nil {
		kv.Close()
		return Identity{}, nil, err
	}
	return id, kv, nil
}

// persistIdentity reads the identity of a writable kv, takes first (or
// draws one) when there is none, pins the node id and writes it back.
func persistIdentity(ctx context.Context, kv *kvlog.Log, wantNodeID int32, first *Identity, logger *slog.Logger) (Identity, error) {
	id, ok, err := recordedIdentity(kv)
	if err != nil {
		return Identity{}, err
	}
	changed := !ok
	switch {
	case !ok && first != nil:
		id = *first
	case !ok:
		id = Identity{NodeID: randomNodeID(), ClusterID: randomClusterID()}
	}
	if wantNodeID >= 0 && wantNodeID != id.NodeID {
		if ok {
			logger.Warn("broker: node id changed by configuration", "was", id.NodeID, "now", wantNodeID)
		}
		id.NodeID, changed = wantNodeID, true
	}
	// Rewrite at every start too, so the record is recent.
	b, err := json.Marshal(id)
	if err == nil {
		err = kv.Put(ctx, identityKey, b)
	}
	if err != nil {
		return Identity{}, fmt.Errorf("broker: persist identity: %w", err)
	}
	if err := kv.Compact(ctx); err != nil {
		return Identity{}, fmt.Errorf("broker: compact identity: %w", err)
	}
	if changed {
		logger.Info("broker: identity", "nodeId", id.NodeID, "clusterId", id.ClusterID)
	}
	return id, nil
}

// recordedIdentity returns the identity record of kv, if there is one.
func recordedIdentity(kv *kvlog.Log) (Identity, bool, error) {
	var id Identity
	b, ok := kv.Get(identityKey)
	if !ok {
		return Identity{}, false, nil
	}
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, false, fmt.Errorf("broker: identity record: %w", err)
	}
	return id, true, nil
}

// IdentityFollower is a slave's read-only identity (ReadIdentity).
type IdentityFollower struct {
	kv       *kvlog.Log
	want     int32
	fallback Identity // before any record has arrived
	log      *slog.Logger
}

// ReadIdentity is LoadIdentity for a slave, whose store is its master's
// copy: it writes nothing and follows the replicated identity record.
// Identity reports the record's cluster id and the configured node id
// (wantNodeID >= 0; a slave needs its own), or the record's when none is
// configured. Before any record has arrived it reports the configured
// node id, or one drawn at random, and a random cluster id, all kept for
// the follower's life and never written. Close it when the broker stops.
func ReadIdentity(ctx context.Context, store *storage.Store, wantNodeID int32, logger *slog.Logger) (*IdentityFollower, error) {
	if logger == nil {
		logger = slog.Default()
	}
	kv, err := kvlog.Open(ctx, store, kvlog.Options{Topic: IdentityTopic, Logger: logger, Follow: true})
	if err != nil {
		return nil, fmt.Errorf("broker: identity: %w", err)
	}
	f := &IdentityFollower{kv: kv, want: wantNodeID, log: logger,
		fallback: Identity{NodeID: wantNodeID, ClusterID: randomClusterID()}}
	if wantNodeID < 0 {
		f.fallback.NodeID = randomNodeID()
	}
	if _, ok, err := recordedIdentity(kv); err != nil {
		kv.Close()
		return nil, err
	} else if !ok {
		logger.Warn("broker: no identity record replicated yet; using a provisional identity",
			"nodeId", f.fallback.NodeID, "clusterId", f.fallback.ClusterID)
	}
	return f, nil
}

// Identity returns the identity as the replicated record has it now.
func (f *IdentityFollower) Identity() Identity {
	id, ok, err := recordedIdentity(f.kv)
	if err != nil || !ok {
		return f.fallback
	}
	if f.want >= 0 {
		id.NodeID = f.want
	}
	return id
}

// Recorded returns the identity as Identity does, and whether the
// master's record has arrived (false: the provisional identity).
func (f *IdentityFollower) Recorded() (Identity, bool) {
	if _, ok, err := recordedIdentity(f.kv); err != nil || !ok {
		return f.fallback, false
	}
	return f.Identity(), true
}

// Promote makes the slave the writer of its identity (failover), once the
// store accepts appends: what LoadIdentity does at a master's start, over
// the replicated record (or the provisional identity when none arrived).
// The record is compacted periodically from then on, until Close.
func (f *IdentityFollower) Promote(ctx context.Context) (Identity, error) {
	if err := f.kv.Promote(ctx); err != nil {
		return Identity{}, fmt.Errorf("broker: identity: %w", err)
	}
	return persistIdentity(ctx, f.kv, f.want, &f.fallback, f.log)
}

// Close stops following (or, once promoted, compacting).
func (f *IdentityFollower) Close() { f.kv.Close() }

func randomNodeID() int32 {
	n, err := rand.Int(rand.Reader, big.NewInt(9999))
	if err != nil {
		return 1
	}
	return int32(n.Int64()) + 1
}

func randomClusterID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
