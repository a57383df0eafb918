package nameserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinmq/twinmq/broker/auth"

	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/wire/remoting"
)

// Defaults of Config (RouteInfoManager.java).
const (
	DefaultBrokerTTL     = 120 * time.Second
	DefaultScanInterval  = 5 * time.Second
	maxRequestBodyLength = 16 << 20
)

// Config configures a Server. The zero value of every field has a working
// default, filled by validate.
type Config struct {
	// BrokerTTL expires a broker that has not registered for that long.
	BrokerTTL time.Duration
	// ScanInterval is how often expiry runs.
	ScanInterval time.Duration
	// RegistrationSecret, when set, makes REGISTER_BROKER and
	// UNREGISTER_BROKER require a signature under it (auth.go); brokers
	// are configured with the same secret. Empty: anyone who reaches the
	// name server may register a broker name no live broker holds.
	RegistrationSecret string
	// MaxRegistrationSkew bounds a signed request's clock difference
	// (default MaxRegistrationSkew).
	MaxRegistrationSkew time.Duration
	// Accounts, if set (aclEnable), makes the destructive codes need an
	// admin account's signature (acl.go).
	Accounts *auth.Accounts
	Logger   *slog.Logger
	Now      func() time.Time
	// TLS, if set, serves Listen's port over TLS (RocketMQ's tlsMode
	// enforcing), or with TLSOptional TLS and plaintext alike
	// (permissive); nil: plaintext (disabled).
	TLS         *tls.Config
	TLSOptional bool
}

func (c *Config) validate() {
	if c.BrokerTTL <= 0 {
		c.BrokerTTL = DefaultBrokerTTL
	}
	if c.ScanInterval <= 0 {
		c.ScanInterval = DefaultScanInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.MaxRegistrationSkew <= 0 {
		c.MaxRegistrationSkew = MaxRegistrationSkew
	}
}

// Server is the name server's netio.Handler: it answers remoting commands
// from the Table and expires brokers. Run drives expiry.
type Server struct {
	cfg   Config
	log   *slog.Logger
	table *Table
	auth  *verifier
	codes map[int32]handlerFunc
	kv    kvConfig // admin.go
	// controller routes the codes of an embedded controller (issue 14:
	// "an embedded controller answers brokers on the name server's own
	// port"); nil until HostController.
	controller atomic.Pointer[func(code int32) remoting.Handler]
}

// handlerFunc answers one request; it returns the response.
type handlerFunc func(c *netio.Conn, req *remoting.Command) *remoting.Command

// New returns a Server with an empty table.
func New(cfg Config) *Server {
	cfg.validate()
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "namesrv"), table: NewTable(),
		auth: &verifier{secret: cfg.RegistrationSecret, skew: cfg.MaxRegistrationSkew, last: make(map[string]int64)}}
	s.codes = map[int32]handlerFunc{
		remoting.RegisterBroker:                s.registerBroker,
		remoting.UnregisterBroker:              s.unregisterBroker,
		remoting.GetRouteinfoByTopic:           s.getRouteInfo,
		remoting.GetBrokerClusterInfo:          s.getClusterInfo,
		remoting.GetAllTopicListFromNameserver: s.getAllTopics,
		remoting.DeleteTopicInNamesrv:          s.deleteTopic,
		remoting.GetClusterView:                s.getClusterView,
	}
	maps.Copy(s.codes, s.adminHandlers()) // admin.go
	s.guardAdminCodes()                   // acl.go
	return s
}

// HostController makes s answer the request codes route gives a handler
// for (the embedded controller's, package controller) besides its own. It
// may be called once s is serving: a controller needs the address s
// listens on before it starts.
func (s *Server) HostController(route func(code int32) remoting.Handler) {
	s.controller.Store(&route)
}

// Table is the server's route table.
func (s *Server) Table() *Table { return s.table }

// Run expires brokers every ScanInterval until ctx ends.
func (s *Server) Run(ctx context.Context) {
	tick := time.NewTicker(s.cfg.ScanInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, addr := range s.table.Expire(s.cfg.Now(), s.cfg.BrokerTTL) {
				s.log.Warn("broker expired", "addr", addr, "ttl", s.cfg.BrokerTTL)
			}
		}
	}
}

// OnOpen implements netio.Handler.
func (s *Server) OnOpen(*netio.Conn) {}

// OnClose implements netio.Handler: brokers that registered over c leave.
func (s *Server) OnClose(c *netio.Conn, err error) {
	for _, addr := range s.table.ConnClosed(c.ID()) {
		s.log.Info("broker connection closed; removed", "addr", addr, "err", err)
	}
}

// OnFrame implements netio.Handler.
func (s *Server) OnFrame(c *netio.Conn, frame []byte, done func()) {
	defer done()
	route := func(code int32) remoting.Handler {
		h := s.codes[code]
		if h == nil {
			if ctl := s.controller.Load(); ctl != nil {
				h := (*ctl)(code)
				if h == nil {
					return nil
				}
				return func(req *remoting.Command) *remoting.Command {
					if err := s.auth.verifyController(req, s.cfg.Now()); err != nil {
						s.log.Warn("controller request refused: not signed with the registration secret", "code", req.Code,
							"remote", c.RemoteAddr().String(), "err", err)
						return remoting.NewResponse(req, remoting.NoPermission, err.Error())
					}
					return h(req)
				}
			}
			return nil
		}
		return func(req *remoting.Command) *remoting.Command { return h(c, req) }
	}
	// Responses are dropped: nothing is ever asked of a client here.
	// Controller requests may wait for raft (up to 5 s): OnFrame runs off
	// the event loop, and the connection's other requests go on meanwhile
	// (Concurrent ordering).
	if err := remoting.ServeFrame(c, frame, route, nil); err != nil {
		s.log.Debug("bad frame; closing", "remote", c.RemoteAddr().String(), "err", err)
	}
}

func (s *Server) registerBroker(c *netio.Conn, req *remoting.Command) *remoting.Command {
	f := req.ExtFields
	id, err := strconv.ParseInt(f["brokerId"], 10, 64)
	if err != nil || f["brokerName"] == "" || f["brokerAddr"] == "" || f["clusterName"] == "" {
		return remoting.NewResponse(req, remoting.InvalidParameter, "brokerName, brokerAddr, clusterName and brokerId are required")
	}
	if err := s.auth.verify(req, s.cfg.Now()); err != nil {
		s.log.Warn("broker registration refused", "cluster", f["clusterName"], "name", f["brokerName"], "id", f["brokerId"],
			"addr", f["brokerAddr"], "remote", c.RemoteAddr().String(), "err", err)
		return remoting.NewResponse(req, remoting.NoPermission, err.Error())
	}
	if f["compressed"] == "true" {
		return remoting.NewResponse(req, remoting.SystemError, "compressed REGISTER_BROKER bodies are not supported")
	}
	if crc, _ := strconv.ParseInt(f["bodyCrc32"], 10, 64); crc != 0 && crc != int64(remoting.BodyCRC(req.Body)) {
		return remoting.NewResponse(req, remoting.SystemError, "bodyCrc32 does not match the body")
	}
	body, err := DecodeRegisterBody(req.Body)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	b := Broker{Cluster: f["clusterName"], Name: f["brokerName"], ID: id, Addr: f["brokerAddr"],
		HAAddr: f["haServerAddr"], ConnID: c.ID(), ZoneName: f["zoneName"], ActingMast: f["enableActingMaster"] == "true"}
	if e, err := strconv.ParseInt(f["masterEpoch"], 10, 32); err == nil && e > 0 {
		b.MasterEpoch = int32(e)
	}
	if n, err := strconv.ParseInt(f["twinmqKafkaNodeId"], 10, 32); err == nil && n >= 0 && f["twinmqKafkaAddr"] != "" {
		b.KafkaAddr, b.KafkaNodeID, b.KafkaClusterID = f["twinmqKafkaAddr"], int32(n), f["twinmqKafkaClusterId"]
		b.KafkaReplicas, b.KafkaISR = nodeList(f["twinmqKafkaReplicas"]), nodeList(f["twinmqKafkaIsr"])
		b.KafkaRack = f["twinmqKafkaRack"]
	}
	isNew, err := s.table.Register(b, body.TopicConfigSerializeWrapper.TopicConfigTable, s.cfg.Now())
	if err != nil {
		s.log.Warn("broker registration refused: conflict", "cluster", b.Cluster, "name", b.Name, "id", b.ID, "addr", b.Addr,
			"remote", c.RemoteAddr().String(), "err", err)
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	if isNew {
		s.log.Info("broker registered", "cluster", b.Cluster, "name", b.Name, "id", b.ID, "addr", b.Addr,
			"topics", len(body.TopicConfigSerializeWrapper.TopicConfigTable))
	}
	// A slave learns its master here (RegisterBrokerResult: the master's
	// remoting and HA addresses); a master gets its own HA address back.
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields["haServerAddr"] = b.HAAddr
	if id != 0 {
		resp.ExtFields["haServerAddr"] = ""
		if m, ok := s.table.Master(b.Name); ok {
			resp.ExtFields["masterAddr"], resp.ExtFields["haServerAddr"] = m.Addr, m.HAAddr
		}
	}
	return resp
}

// unregisterBroker removes the broker at brokerAddr if it is the one the
// request names (UnRegisterBrokerRequestHeader: clusterName, brokerAddr,
// brokerName, brokerId): anyone else's goodbye is refused and changes
// nothing, as is an unsigned one when a registration secret is set.
func (s *Server) unregisterBroker(c *netio.Conn, req *remoting.Command) *remoting.Command {
	f := req.ExtFields
	if err := s.auth.verify(req, s.cfg.Now()); err != nil {
		s.log.Warn("broker unregistration refused", "name", f["brokerName"], "addr", f["brokerAddr"],
			"remote", c.RemoteAddr().String(), "err", err)
		return remoting.NewResponse(req, remoting.NoPermission, err.Error())
	}
	b := Broker{Cluster: f["clusterName"], Name: f["brokerName"], Addr: f["brokerAddr"], ID: -1}
	if id, err := strconv.ParseInt(f["brokerId"], 10, 64); err == nil {
		b.ID = id
	}
	removed, err := s.table.UnregisterBroker(b)
	if err != nil {
		s.log.Warn("broker unregistration refused: conflict", "name", b.Name, "id", b.ID, "addr", b.Addr,
			"remote", c.RemoteAddr().String(), "err", err)
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	if removed {
		s.log.Info("broker unregistered", "addr", b.Addr, "name", b.Name)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

func (s *Server) getRouteInfo(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	topic := req.ExtFields["topic"]
	r, ok := s.table.Route(topic)
	if !ok {
		return remoting.NewResponse(req, remoting.TopicNotExist,
			"No topic route info in name server for the topic: "+topic)
	}
	return jsonResponse(req, r)
}

func (s *Server) getClusterInfo(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	return jsonResponse(req, s.table.ClusterInfo())
}

func (s *Server) getClusterView(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	return jsonResponse(req, s.table.ClusterView(req.ExtFields["clusterName"]))
}

func (s *Server) getAllTopics(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	return jsonResponse(req, TopicList{TopicList: s.table.Topics()})
}

func (s *Server) deleteTopic(_ *netio.Conn, req *remoting.Command) *remoting.Command {
	s.table.DeleteTopic(req.ExtFields["topic"])
	return remoting.NewResponse(req, remoting.Success, "")
}

// jsonResponse is a SUCCESS response whose body is v as compact JSON.
func jsonResponse(req *remoting.Command, v any) *remoting.Command {
	b, err := json.Marshal(v)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = b
	return resp
}

// Listen starts a netio server for s on addr (Concurrent ordering, 16 MiB
// frames) and the expiry loop. The loop ends with ctx; stop ends it and
// shuts the listener down.
func Listen(ctx context.Context, addr string, s *Server) (srv *netio.Server, stop func(context.Context) error, err error) {
	srv, err = netio.New(netio.Config{
		Addr:     addr,
		Framer:   netio.LengthPrefixed{Max: remoting.MaxFrameSize - 4},
		Ordering: netio.Concurrent,
		Logger:   s.cfg.Logger,
		TLS:      s.cfg.TLS, TLSOptional: s.cfg.TLSOptional,
	}, s)
	if err != nil {
		return nil, nil, fmt.Errorf("nameserver: %w", err)
	}
	if err := srv.Start(ctx); err != nil {
		return nil, nil, fmt.Errorf("nameserver: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(runCtx) }()
	var once sync.Once
	stop = func(sctx context.Context) error {
		var err error
		once.Do(func() {
			cancel()
			wg.Wait()
			err = srv.Shutdown(sctx)
		})
		return err
	}
	return srv, stop, nil
}

// maxKafkaReplicas bounds the node list a registration carries.
const maxKafkaReplicas = 64

// nodeList parses a comma-separated list of Kafka node ids; entries that
// are not non-negative int32s are dropped, and at most maxKafkaReplicas
// kept.
func nodeList(s string) []int32 {
	if s == "" {
		return nil
	}
	var out []int32
	for _, f := range strings.Split(s, ",") {
		if len(out) == maxKafkaReplicas {
			break
		}
		if n, err := strconv.ParseInt(f, 10, 32); err == nil && n >= 0 {
			out = append(out, int32(n))
		}
	}
	return out
}
