package remotingapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Peers is a remoting client to the other brokers and the name servers of
// the cluster: the Kafka adapter forwards what belongs to another broker
// group through it (topic creation on every group, consumer offsets of
// another group's queues) and reads the cluster view. It keeps one
// connection per address; its methods are safe for concurrent use.
type Peers struct {
	cluster  string
	namesrvs []string
	tls      *tls.Config // nil: plaintext (WithTLS)

	mu      sync.Mutex
	clients map[string]*nameserver.Client
}

// NewPeers returns a client for the brokers of cluster, asking the name
// servers namesrvs for the view.
func NewPeers(cluster string, namesrvs []string) *Peers {
	return &Peers{cluster: cluster, namesrvs: namesrvs, clients: make(map[string]*nameserver.Client)}
}

// WithTLS makes p connect over TLS with cfg (peers and name servers with
// tlsMode enforcing); call it before p is used.
func (p *Peers) WithTLS(cfg *tls.Config) *Peers {
	p.tls = cfg
	return p
}

// Close closes every connection.
func (p *Peers) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, c := range p.clients {
		_ = c.Close()
		delete(p.clients, addr)
	}
}

// invoke sends req to addr, dialing as needed; a failed connection is
// dropped so the next call dials again.
func (p *Peers) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	p.mu.Lock()
	c := p.clients[addr]
	if c != nil && c.Err() != nil {
		_ = c.Close()
		c = nil
		delete(p.clients, addr)
	}
	p.mu.Unlock()
	if c == nil {
		nc, err := nameserver.DialTLS(ctx, addr, p.tls)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		if old := p.clients[addr]; old != nil && old.Err() == nil {
			c = old // another call dialed meanwhile
			_ = nc.Close()
		} else {
			c = nc
			p.clients[addr] = nc
		}
		p.mu.Unlock()
	}
	resp, err := c.Invoke(ctx, req)
	if err != nil && ctx.Err() == nil {
		p.mu.Lock()
		if p.clients[addr] == c {
			delete(p.clients, addr)
		}
		p.mu.Unlock()
		_ = c.Close()
	}
	return resp, err
}

// errPeer marks a refusal by the peer (its code and remark).
var errPeer = errors.New("remotingapi: peer refused")

func (p *Peers) call(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	resp, err := p.invoke(ctx, addr, req)
	if err != nil {
		return nil, fmt.Errorf("remotingapi: %s: %w", addr, err)
	}
	return resp, nil
}

// View asks the name servers, in order, for the cluster view.
func (p *Peers) View(ctx context.Context) (cluster.View, error) {
	var errs []error
	for _, addr := range p.namesrvs {
		req := remoting.NewRequest(remoting.GetClusterView, 0)
		req.ExtFields["clusterName"] = p.cluster
		resp, err := p.call(ctx, addr, req)
		if err == nil && resp.Code != remoting.Success {
			err = fmt.Errorf("%w: %s: code %d: %s", errPeer, addr, resp.Code, resp.Remark)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var cv nameserver.ClusterView
		if err := json.Unmarshal(resp.Body, &cv); err != nil {
			errs = append(errs, fmt.Errorf("remotingapi: %s: cluster view: %w", addr, err))
			continue
		}
		v := viewOf(cv)
		v.Cluster = p.cluster
		return v, nil
	}
	if len(errs) == 0 {
		return cluster.View{}, errors.New("remotingapi: no name server to ask for the cluster view")
	}
	return cluster.View{}, errors.Join(errs...)
}

// viewOf turns the name server's answer into a cluster.View.
func viewOf(cv nameserver.ClusterView) cluster.View {
	v := cluster.View{Topics: make(map[string][]cluster.Placement, len(cv.Topics))}
	for _, g := range cv.Groups {
		cg := cluster.Group{Name: g.Name, Remoting: g.MasterAddr, Epoch: g.MasterEpoch}
		if host, port, err := net.SplitHostPort(g.KafkaAddr); err == nil && g.KafkaAddr != "" {
			if n, err := strconv.ParseInt(port, 10, 32); err == nil {
				cg.Master, cg.HasNode = cluster.Node{NodeID: g.KafkaNodeID, Host: host, Port: int32(n), Rack: g.KafkaRack}, true
				cg.Replicas, cg.ISR = []int32{g.KafkaNodeID}, []int32{g.KafkaNodeID}
				if len(g.KafkaReplicas) > 0 && len(g.KafkaISR) > 0 {
					cg.Replicas, cg.ISR = g.KafkaReplicas, g.KafkaISR
				}
			}
		}
		for _, f := range g.Followers {
			host, port, err := net.SplitHostPort(f.KafkaAddr)
			if err != nil {
				continue
			}
			if n, err := strconv.ParseInt(port, 10, 32); err == nil {
				cg.Followers = append(cg.Followers, cluster.Node{NodeID: f.KafkaNodeID, Host: host, Port: int32(n), Rack: f.KafkaRack})
			}
		}
		v.Groups = append(v.Groups, cg)
	}
	for topic, ps := range cv.Topics {
		if topic == autoCreateTopicKey {
			continue // a route template for producers, no topic
		}
		out := make([]cluster.Placement, 0, len(ps))
		for _, pl := range ps {
			out = append(out, cluster.Placement{Group: pl.Group, Queues: pl.Queues})
		}
		v.Topics[topic] = out
	}
	return v
}

// CreateTopic creates topic with queues queues on the master at addr
// (UPDATE_AND_CREATE_TOPIC), or grows it to that many.
func (p *Peers) CreateTopic(ctx context.Context, addr, topic string, queues, perm int32) error {
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic, 0)
	f := req.ExtFields
	f["topic"], f["defaultTopic"] = topic, autoCreateTopicKey
	f["readQueueNums"], f["writeQueueNums"] = strconv.Itoa(int(queues)), strconv.Itoa(int(queues))
	f["perm"], f["topicFilterType"], f["topicSysFlag"], f["order"] = strconv.Itoa(int(perm)), "SINGLE_TAG", "0", "false"
	return p.expectSuccess(ctx, addr, req)
}

// DeleteTopic deletes topic on the broker at addr (DELETE_TOPIC_IN_BROKER).
func (p *Peers) DeleteTopic(ctx context.Context, addr, topic string) error {
	req := remoting.NewRequest(remoting.DeleteTopicInBroker, 0)
	req.ExtFields["topic"] = topic
	return p.expectSuccess(ctx, addr, req)
}

// CommitOffset stores group's offset of a queue on the broker at addr
// (UPDATE_CONSUMER_OFFSET), where the queue lives.
func (p *Peers) CommitOffset(ctx context.Context, addr, group, topic string, queue int32, offset int64) error {
	req := remoting.NewRequest(remoting.UpdateConsumerOffset, 0)
	f := req.ExtFields
	f["consumerGroup"], f["topic"], f["queueId"] = group, topic, strconv.Itoa(int(queue))
	f["commitOffset"] = strconv.FormatInt(offset, 10)
	return p.expectSuccess(ctx, addr, req)
}

// FetchOffset reads group's offset of a queue from the broker at addr
// (QUERY_CONSUMER_OFFSET); ok is false when the group has none.
func (p *Peers) FetchOffset(ctx context.Context, addr, group, topic string, queue int32) (offset int64, ok bool, err error) {
	req := remoting.NewRequest(remoting.QueryConsumerOffset, 0)
	f := req.ExtFields
	f["consumerGroup"], f["topic"], f["queueId"], f["setZeroIfNotFound"] = group, topic, strconv.Itoa(int(queue)), "false"
	resp, err := p.call(ctx, addr, req)
	if err != nil {
		return 0, false, err
	}
	switch resp.Code {
	case remoting.Success:
		off, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("remotingapi: %s: offset %q: %w", addr, resp.ExtFields["offset"], err)
		}
		return off, true, nil
	case remoting.QueryNotFound:
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("%w: %s: code %d: %s", errPeer, addr, resp.Code, resp.Remark)
}

func (p *Peers) expectSuccess(ctx context.Context, addr string, req *remoting.Command) error {
	resp, err := p.call(ctx, addr, req)
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return fmt.Errorf("%w: %s: code %d: %s", errPeer, addr, resp.Code, resp.Remark)
	}
	return nil
}
