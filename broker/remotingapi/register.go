package remotingapi

import (
	"context"
	"net/netip"
	"strconv"
	"time"

	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// registrar registers the broker with every name server (docs/design.md section 6):
// at start, every RegisterInterval, and at once after a topic change so
// clients see a new topic's route immediately. A failed registration is
// retried after retryDelay. Only run's goroutine touches clients.
type registrar struct {
	b      *Broker
	kickCh chan struct{}
	// waitCh takes the channels of registered callers; run closes each
	// once a registration that began after it was queued has finished.
	waitCh  chan chan struct{}
	clients map[string]*nameserver.Client
	version int64
	// lastSigned is the newest registrationTimestamp sent: a name server
	// refuses one not newer than the last it accepted (a replay), so two
	// registrations within a clock tick, or across a clock step back,
	// still count up.
	lastSigned int64
}

const (
	retryDelay      = time.Second
	registerTimeout = 6 * time.Second // the name server RPC timeout of the clients
)

func newRegistrar(b *Broker) *registrar {
	return &registrar{b: b, kickCh: make(chan struct{}, 1), waitCh: make(chan chan struct{}, 64),
		clients: make(map[string]*nameserver.Client)}
}

// AwaitRegistered registers with the name servers now and returns once
// that registration has finished, successfully or not, or ctx ends: a
// topic another adapter created is then routable for RocketMQ clients.
func (b *Broker) AwaitRegistered(ctx context.Context) { b.reg.registered(ctx) }

// kick asks for a registration now; it never blocks.
func (r *registrar) kick() {
	select {
	case r.kickCh <- struct{}{}:
	default:
	}
}

// registered asks for a registration and waits until one that began after
// the call has finished, successfully or not, or ctx ends. The Java broker
// registers before it answers the send that created a topic
// (TopicConfigManager.createTopicInSendMessageMethod), so a client that
// has the answer finds the new topic's route on the name server at once.
func (r *registrar) registered(ctx context.Context) {
	if len(r.b.cfg.NamesrvAddrs) == 0 {
		return
	}
	done := make(chan struct{})
	select {
	case r.waitCh <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func (r *registrar) run(ctx context.Context) {
	if len(r.b.cfg.NamesrvAddrs) == 0 {
		return
	}
	tick := time.NewTicker(r.b.cfg.RegisterInterval)
	defer tick.Stop()
	retry := time.NewTimer(0)
	defer retry.Stop()
	var waiting []chan struct{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.kickCh:
		case <-retry.C:
		case w := <-r.waitCh:
			waiting = append(waiting, w)
		}
		for len(r.waitCh) > 0 {
			waiting = append(waiting, <-r.waitCh)
		}
		if !r.registerAll(ctx) {
			retry.Reset(retryDelay)
		}
		for _, w := range waiting {
			close(w)
		}
		waiting = waiting[:0]
	}
}

// registerAll registers with every name server; it reports whether all
// accepted, and, for a slave, whether one named the group's master (a
// slave that has no master yet registers again after retryDelay rather
// than RegisterInterval, so it starts streaming within a second of its
// master's first registration).
func (r *registrar) registerAll(ctx context.Context) bool {
	masterKnown := r.b.brokerID.Load() == 0
	r.version++
	body := nameserver.EncodeRegisterBody(r.b.topicConfigs(), nameserver.DataVersion{
		Timestamp: r.b.cfg.Now().UnixMilli(), Counter: r.version})
	ok := true
	for _, addr := range r.b.cfg.NamesrvAddrs {
		req := remoting.NewRequest(remoting.RegisterBroker, 0)
		f := req.ExtFields
		f["brokerName"], f["brokerAddr"], f["clusterName"] = r.b.cfg.BrokerName, r.b.storeHost.String(), r.b.cfg.ClusterName
		f["brokerId"], f["haServerAddr"], f["compressed"] = strconv.FormatInt(r.b.brokerID.Load(), 10), r.b.haAddr(), "false"
		f["bodyCrc32"] = strconv.FormatInt(int64(remoting.BodyCRC(body)), 10)
		if r.b.cfg.MasterEpoch != nil {
			if e := r.b.cfg.MasterEpoch(); e > 0 && r.b.brokerID.Load() == 0 {
				f["masterEpoch"] = strconv.Itoa(int(e)) // a controller-elected master (nameserver.Table.Register)
			}
		}
		if ke := r.b.cfg.KafkaEndpoint; ke != nil {
			// A master's Kafka listener leads its group's partitions; a
			// slave's serves follower fetches (KIP-392).
			if ka, node, cid, ok := ke(); ok {
				f["twinmqKafkaAddr"], f["twinmqKafkaNodeId"], f["twinmqKafkaClusterId"] = ka, strconv.Itoa(int(node)), cid
				if r.b.cfg.KafkaRack != "" {
					f["twinmqKafkaRack"] = r.b.cfg.KafkaRack
				}
				if kr := r.b.cfg.KafkaReplicas; kr != nil && r.b.brokerID.Load() == 0 {
					replicas, isr := kr()
					f["twinmqKafkaReplicas"], f["twinmqKafkaIsr"] = joinNodes(replicas), joinNodes(isr)
				}
			}
		}
		req.Body = body
		r.sign(req)
		resp, err := r.invoke(ctx, addr, req)
		if err == nil && resp.Code != remoting.Success {
			r.b.log.Warn("name server refused registration", "namesrv", addr, "code", resp.Code, "remark", resp.Remark)
			ok = false
		} else if err == nil {
			masterKnown = masterKnown || resp.ExtFields["masterAddr"] != ""
			if r.b.cfg.OnMaster != nil {
				r.b.cfg.OnMaster(resp.ExtFields["masterAddr"], resp.ExtFields["haServerAddr"])
			}
		} else if ctx.Err() == nil {
			r.b.log.Warn("cannot register with name server", "namesrv", addr, "err", err)
			ok = false
		}
	}
	return ok && masterKnown
}

// invoke sends req to addr over a cached connection, dialing as needed.
func (r *registrar) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	c := r.clients[addr]
	if c != nil && c.Err() != nil {
		_ = c.Close()
		c = nil
	}
	if c == nil {
		var err error
		if c, err = nameserver.DialTLS(ctx, addr, r.b.cfg.NamesrvTLS); err != nil {
			return nil, err
		}
		r.clients[addr] = c
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil {
		_ = c.Close()
		delete(r.clients, addr)
	}
	return resp, err
}

// unregister says goodbye to every name server (UNREGISTER_BROKER) and
// closes the connections; run must have returned.
func (r *registrar) unregister(ctx context.Context) {
	for _, addr := range r.b.cfg.NamesrvAddrs {
		c := r.clients[addr]
		if c == nil {
			continue
		}
		req := remoting.NewRequest(remoting.UnregisterBroker, 0)
		req.ExtFields["brokerName"], req.ExtFields["brokerAddr"] = r.b.cfg.BrokerName, r.b.storeHost.String()
		req.ExtFields["clusterName"], req.ExtFields["brokerId"] = r.b.cfg.ClusterName, strconv.FormatInt(r.b.brokerID.Load(), 10)
		r.sign(req)
		ictx, cancel := context.WithTimeout(ctx, time.Second)
		_, _ = c.Invoke(ictx, req)
		cancel()
		_ = c.Close()
		delete(r.clients, addr)
	}
}

// sign signs req, whose fields and body are final, with the registration
// secret, if one is configured.
func (r *registrar) sign(req *remoting.Command) {
	if r.b.cfg.RegistrationSecret == "" {
		return
	}
	r.lastSigned = max(r.b.cfg.Now().UnixNano(), r.lastSigned+1)
	nameserver.SignRegistration(r.b.cfg.RegistrationSecret, req, r.lastSigned)
}

// topicConfigs is the topic table the broker registers: every topic of
// the registry, and TBW102 (perm 7: inherit, read, write; 8 queues) when
// topics are auto-created, which is how producers learn a route for a topic
// that does not exist yet (docs/rocketmq-protocol.md §2.2).
func (b *Broker) topicConfigs() map[string]nameserver.TopicConfig {
	out := make(map[string]nameserver.TopicConfig)
	for _, t := range b.topics.List() {
		if t.Internal {
			continue
		}
		out[t.Name] = nameserver.TopicConfig{TopicName: t.Name, ReadQueueNums: t.Queues, WriteQueueNums: t.Queues,
			Perm: t.Perm, TopicFilterType: "SINGLE_TAG", Attributes: map[string]string{}}
	}
	if !b.cfg.DisableAutoCreateTopic {
		out[autoCreateTopicKey] = nameserver.TopicConfig{TopicName: autoCreateTopicKey, ReadQueueNums: autoCreateTopicQueues,
			WriteQueueNums: autoCreateTopicQueues, Perm: 7, TopicFilterType: "SINGLE_TAG", Attributes: map[string]string{}}
	}
	return out
}

// haAddr is the HA address the broker registers.
func (b *Broker) haAddr() string {
	if b.cfg.HAAddr != "" {
		return b.cfg.HAAddr
	}
	return netip.AddrPortFrom(b.storeHost.Addr(), defaultHAPort).String()
}

// defaultHAPort is RocketMQ's haListenPort.
const defaultHAPort = 10912

// joinNodes writes Kafka node ids as a comma-separated list.
func joinNodes(ids []int32) string {
	var b []byte
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(b)
}
