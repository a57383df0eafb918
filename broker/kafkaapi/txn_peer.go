package kafkaapi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/twinmq/twinmq/broker/cluster"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/broker/txn"
)

// Transactions across broker groups talk Kafka between brokers, as
// Kafka's own brokers do: the coordinator sends WriteTxnMarkers to the
// master of each other group its transaction wrote to (Kafka's
// TransactionMarkerChannelManager), and a master receiving a
// transactional batch of a transaction coordinated elsewhere asks the
// coordinator with AddPartitionsToTxn v5 (KIP-890: verify-only, or add
// for Produce v12+). Both are rare (once per transaction and group, once
// per transaction and partition), so each request gets a connection of
// its own, dialed from this broker's advertised host: the receiver of
// WriteTxnMarkers checks the sender's address against the cluster view.

// peerVersions are the versions sent to other brokers (all twinmq).
const (
	peerWriteTxnMarkersVersion    = 1
	peerAddPartitionsToTxnVersion = 5
)

// peerTimeout bounds one request to another broker: its answers come at
// once (a marker's append, a coordinator's look-up or record write).
const peerTimeout = 3 * time.Second

// maxPeerResponse bounds a response read from another broker: these
// answers are a few bytes per partition.
const maxPeerResponse = 1 << 20

// errPeerResponse marks a response that does not decode.
var errPeerResponse = errors.New("kafkaapi: malformed response from a broker")

// peerRequest sends req to the Kafka listener at addr and returns its
// response.
func (h *Handler) peerRequest(ctx context.Context, addr string, req kmsg.Request) (kmsg.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout)
	defer cancel()
	d := net.Dialer{}
	host, _ := h.advertisedAddr()
	if ips := hostIPs(ctx, host); len(ips) > 0 && !ips[0].IsUnspecified() {
		d.LocalAddr = &net.TCPAddr{IP: ips[0]}
	}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil && d.LocalAddr != nil {
		// The advertised address is not one of this machine's (behind a
		// NAT): any source will do for AddPartitionsToTxn; WriteTxnMarkers
		// is then refused, as the receiver cannot tell it from a client's.
		d.LocalAddr = nil
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("kafkaapi: broker %s: %w", addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	const corr = 1
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("twinmq-broker")).AppendRequest(nil, req, corr)
	if _, err := c.Write(frame); err != nil {
		return nil, fmt.Errorf("kafkaapi: broker %s: %w", addr, err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return nil, fmt.Errorf("kafkaapi: broker %s: %w", addr, err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxPeerResponse {
		return nil, fmt.Errorf("kafkaapi: broker %s: response of %d bytes: %w", addr, n, errPeerResponse)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, fmt.Errorf("kafkaapi: broker %s: %w", addr, err)
	}
	resp, err := parsePeerResponse(req, corr, body)
	if err != nil {
		return nil, fmt.Errorf("kafkaapi: broker %s: %w", addr, err)
	}
	return resp, nil
}

// parsePeerResponse decodes the response to req from body (the frame
// without its size): correlation id, the flexible header's tagged fields,
// then the body at req's version.
func parsePeerResponse(req kmsg.Request, corr int32, body []byte) (kmsg.Response, error) {
	if len(body) < 4 || int32(binary.BigEndian.Uint32(body)) != corr {
		return nil, fmt.Errorf("correlation id: %w", errPeerResponse)
	}
	body = body[4:]
	if req.IsFlexible() && req.Key() != 18 { // ApiVersions answers with header v0
		if len(body) < 1 || body[0] != 0 {
			return nil, fmt.Errorf("response header tags: %w", errPeerResponse)
		}
		body = body[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: %w", errPeerResponse, err)
	}
	return resp, nil
}

// kafkaPartition is p's Kafka partition number: its group's first
// partition of the topic plus its queue.
func (h *Handler) kafkaPartition(p txn.Partition) (int32, bool) {
	if p.Group == "" {
		return h.partitionOfQueue(p.Topic, p.Partition), true
	}
	v := h.view()
	if v == nil {
		return 0, false
	}
	c, _ := h.reg.Get(p.Topic)
	base, ok := cluster.Base(v.Placements(p.Topic, c.Queues), p.Group)
	return base + p.Partition, ok
}

// txnPartition maps partition p of c for a transaction coordinated here:
// this group's queue, or another group's queue with its group (the
// coordinator sends that group's master the markers), or
// UNKNOWN_TOPIC_OR_PARTITION.
func (h *Handler) txnPartition(c topics.Config, p int32) (txn.Partition, int16) {
	v := h.view()
	if v == nil || c.Internal {
		q, code := h.localQueue(c, p)
		return txn.Partition{Topic: c.Name, Partition: q}, code
	}
	loc, ok := cluster.Locate(v.Placements(c.Name, c.Queues), p)
	switch {
	case !ok:
		return txn.Partition{}, errUnknownTopicOrPartition
	case loc.Group == v.Self:
		return txn.Partition{Topic: c.Name, Partition: loc.Queue}, errNone
	}
	return txn.Partition{Topic: c.Name, Partition: loc.Queue, Group: loc.Group}, errNone
}

// remoteMarkerAttempts bounds the tries of one writeRemoteMarkers (about
// 1.5 s with the backoff): the coordinator's sweep (every 10 s) and the
// client's retried EndTxn try again, so a master that is away holds up
// neither a start nor a request for long.
const remoteMarkerAttempts = 5

// writeRemoteMarkers sends group's master a WriteTxnMarkers for parts
// (all of group), and retries, until every partition has its marker, ctx
// ends or remoteMarkerAttempts failed. A partition whose topic is gone,
// or whose producer moved to a newer epoch, has nothing to mark, as for
// this broker's own.
func (h *Handler) writeRemoteMarkers(ctx context.Context, group string, pid int64, epoch int16, commit bool, parts []txn.Partition) error {
	for attempt := 1; ; attempt++ {
		err := h.sendRemoteMarkers(ctx, group, pid, epoch, commit, parts)
		if err == nil {
			return nil
		}
		h.log.Warn("kafkaapi: transaction markers for another broker group", "group", group, "producerId", pid,
			"attempt", attempt, "err", err)
		if attempt == remoteMarkerAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
		if h.cfg.ClusterRefresh != nil {
			_ = h.cfg.ClusterRefresh(ctx) // a new master may have registered
		}
	}
}

func (h *Handler) sendRemoteMarkers(ctx context.Context, group string, pid int64, epoch int16, commit bool, parts []txn.Partition) error {
	v := h.view()
	if v == nil {
		return fmt.Errorf("kafkaapi: broker group %s: no cluster view", group)
	}
	g, ok := v.Group(group)
	if !ok || !g.HasNode {
		return fmt.Errorf("kafkaapi: broker group %s: no master", group)
	}
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, commit
	for _, p := range parts {
		kp, ok := h.kafkaPartition(p)
		if !ok {
			continue // the topic left the group: nothing to mark
		}
		if n := len(m.Topics); n == 0 || m.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
			t.Topic = p.Topic
			m.Topics = append(m.Topics, t)
		}
		m.Topics[len(m.Topics)-1].Partitions = append(m.Topics[len(m.Topics)-1].Partitions, kp)
	}
	if len(m.Topics) == 0 {
		return nil
	}
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = peerWriteTxnMarkersVersion
	req.Markers = append(req.Markers, m)
	addr := net.JoinHostPort(g.Master.Host, strconv.Itoa(int(g.Master.Port)))
	resp, err := h.peerRequest(ctx, addr, req)
	if err != nil {
		return err
	}
	var errs []error
	for _, rm := range resp.(*kmsg.WriteTxnMarkersResponse).Markers {
		for _, t := range rm.Topics {
			for _, p := range t.Partitions {
				switch p.ErrorCode {
				case errNone, errUnknownTopicOrPartition, errInvalidProducerEpoch:
				default:
					errs = append(errs, fmt.Errorf("%s/%d: error %d", t.Topic, p.Partition, p.ErrorCode))
				}
			}
		}
	}
	if len(resp.(*kmsg.WriteTxnMarkersResponse).Markers) != 1 {
		errs = append(errs, errPeerResponse)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kafkaapi: broker group %s: %w", group, err)
	}
	return nil
}
