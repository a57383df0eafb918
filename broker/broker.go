// Package broker holds what every broker service and adapter shares: the
// broker's identity (node id, cluster id), persisted in the store so that
// it survives restarts. The services live in the sub-packages (topics,
// kafkaapi, ...).
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
	var id Identity
	b, ok := kv.Get(identityKey)
	if ok {
		if err := json.Unmarshal(b, &id); err != nil {
			kv.Close()
			return Identity{}, nil, fmt.Errorf("broker: identity record: %w", err)
		}
	}
	changed := !ok
	if !ok {
		id = Identity{NodeID: randomNodeID(), ClusterID: randomClusterID()}
	}
	if wantNodeID >= 0 && wantNodeID != id.NodeID {
		if ok {
			logger.Warn("broker: node id changed by configuration", "was", id.NodeID, "now", wantNodeID)
		}
		id.NodeID, changed = wantNodeID, true
	}
	// Rewrite at every start too, so the record is recent.
	if b, err = json.Marshal(id); err == nil {
		err = kv.Put(ctx, identityKey, b)
	}
	if err != nil {
		kv.Close()
		return Identity{}, nil, fmt.Errorf("broker: persist identity: %w", err)
	}
	if err := kv.Compact(ctx); err != nil {
		kv.Close()
		return Identity{}, nil, fmt.Errorf("broker: compact identity: %w", err)
	}
	if changed {
		logger.Info("broker: identity", "nodeId", id.NodeID, "clusterId", id.ClusterID)
	}
	return id, kv, nil
}

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
