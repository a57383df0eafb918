package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/remotingapi"
)

// groupsView is a broker's view of the other broker groups of its
// cluster (package broker/cluster), read from the name servers: Kafka
// Metadata numbers partitions across groups by it, and the Kafka adapter
// forwards what belongs to another group through peers. The Kafka
// listener's endpoint, once it runs, goes into the broker's registration
// so that the other groups can list it.
type groupsView struct {
	peers  *remotingapi.Peers
	poller *cluster.Poller
	kafka  atomic.Pointer[kafkaEndpoint]
	// reregister is the RocketMQ broker, which registers the endpoint.
	reregister atomic.Pointer[*remotingapi.Broker]
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

type kafkaEndpoint struct {
	addr      string
	nodeID    int32
	clusterID string
	replicas  func() (replicas, isr []int32) // nil: the node alone
}

// startGroupsView polls the name servers nsAddrs for cfg's cluster
// until stop; nil without name servers.
func startGroupsView(ctx context.Context, cfg Config, nsAddrs []string, logger *slog.Logger) *groupsView {
	if len(nsAddrs) == 0 {
		return nil
	}
	rt, err := cfg.rocketmqTLS()
	if err != nil { // validated at start; plaintext is what remains
		logger.Warn("cluster view: tlsMode", "err", err)
	}
	cv := &groupsView{peers: remotingapi.NewPeers(cfg.BrokerClusterName, nsAddrs).WithTLS(rt.client)}
	cv.poller = cluster.NewPoller(cfg.BrokerName, cv.peers.View, 0, logger)
	ctx, cv.cancel = context.WithCancel(ctx)
	cv.wg.Add(2)
	go func() { defer cv.wg.Done(); cv.poller.Run(ctx) }()
	go func() { defer cv.wg.Done(); cv.watchReplicas(ctx) }()
	return cv
}

// watchReplicas registers again when the group's replicas or in-sync
// replicas change (a slave connects, falls behind or leaves), so the other
// brokers' Metadata shows them within a registration.
func (cv *groupsView) watchReplicas(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		replicas, isr := cv.replicas()
		now := fmt.Sprint(replicas, isr)
		if now != last {
			last = now
			if b := cv.reregister.Load(); b != nil {
				(*b).Reregister()
			}
		}
	}
}

// replicas is remotingapi.Config.KafkaReplicas.
func (cv *groupsView) replicas() (replicas, isr []int32) {
	e := cv.kafka.Load()
	if e == nil || e.replicas == nil {
		return nil, nil
	}
	return e.replicas()
}

// stop ends the polling and closes the connections.
func (cv *groupsView) stop() {
	if cv == nil {
		return
	}
	cv.cancel()
	cv.wg.Wait()
	cv.peers.Close()
}

// setKafka records the Kafka listener's advertised address.
func (cv *groupsView) setKafka(host string, port int32, nodeID int32, clusterID string, replicas func() (replicas, isr []int32)) {
	if cv == nil {
		return
	}
	cv.kafka.Store(&kafkaEndpoint{addr: net.JoinHostPort(host, strconv.Itoa(int(port))), nodeID: nodeID, clusterID: clusterID,
		replicas: replicas})
	if b := cv.reregister.Load(); b != nil {
		(*b).Reregister()
	}
}

// endpoint is remotingapi.Config.KafkaEndpoint.
func (cv *groupsView) endpoint() (string, int32, string, bool) {
	e := cv.kafka.Load()
	if e == nil {
		return "", 0, "", false
	}
	return e.addr, e.nodeID, e.clusterID, true
}

// awaitRegistered is kafkaapi.Config.TopicsRegistered: the RocketMQ
// broker's registration with the name servers, once it runs.
func (cv *groupsView) awaitRegistered(ctx context.Context) {
	if b := cv.reregister.Load(); b != nil {
		(*b).AwaitRegistered(ctx)
	}
}
