package grpcapi

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/twinmq/twinmq/broker/delay"
	"github.com/twinmq/twinmq/broker/log"
	"github.com/twinmq/twinmq/broker/pop"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/wire/remoting"
	"github.com/twinmq/twinmq/wire/rmqpb"
)

// Defaults of Config.
const (
	DefaultBrokerName      = "broker-a"
	DefaultClusterName     = "DefaultCluster"
	DefaultTopicQueues     = 4
	DefaultMaxMessageSize  = 4 << 20
	DefaultMaxReceiveBatch = 32
	DefaultMinInvisible    = time.Second
	DefaultMaxInvisible    = 12 * time.Hour
	DefaultMaxLongPolling  = 20 * time.Second
	DefaultSettingsTimeout = 20 * time.Second
)

// Config configures a Server. Endpoint and StoreHost are required.
type Config struct {
	// Endpoint is host:port clients reach the gRPC listener at: routes
	// name it as every queue's broker endpoint.
	Endpoint string
	// StoreHost is the STOREHOST of the messages stored here: the
	// remoting listener's advertised ip:port, so that their offset
	// message ids are the remoting adapter's.
	StoreHost   string
	BrokerName  string
	ClusterName string
	// AutoCreateTopics creates a topic a QueryRoute names with
	// DefaultTopicQueues queues (autoCreateTopicEnable).
	AutoCreateTopics   bool
	DefaultTopicQueues int32
	MaxMessageSize     int
	// MaxReceiveBatch bounds a ReceiveMessage's batch_size: more is
	// refused with BAD_REQUEST.
	MaxReceiveBatch int32
	// MinInvisible and MaxInvisible bound invisible durations
	// (ILLEGAL_INVISIBLE_TIME outside).
	MinInvisible, MaxInvisible time.Duration
	// TLSCertFile and TLSKeyFile are the listener's key pair; none: a
	// self-signed certificate made at start (tls.go).
	TLSCertFile, TLSKeyFile string
	// MaxLongPolling bounds how long a ReceiveMessage waits for records.
	MaxLongPolling time.Duration
	// SettingsTimeout is how long a Telemetry stream may stay without
	// sending its settings before it is ended.
	SettingsTimeout time.Duration
	// Delay places messages with a delivery timestamp (nil: they are
	// refused with ILLEGAL_DELIVERY_TIME).
	Delay *delay.Policy
	// Offsets, if set, is the consumer offset table UpdateOffset and
	// GetOffset use (offset.go); nil: they answer NOT_IMPLEMENTED.
	Offsets OffsetStore
	Logger  *slog.Logger
	Now     func() time.Time
}

func (c *Config) validate() (netip.AddrPort, error) {
	if _, _, err := net.SplitHostPort(c.Endpoint); err != nil {
		return netip.AddrPort{}, fmt.Errorf("grpcapi: endpoint %q: %w", c.Endpoint, err)
	}
	host, err := netip.ParseAddrPort(c.StoreHost)
	if err != nil {
		return host, fmt.Errorf("grpcapi: store host %q must be ip:port: %w", c.StoreHost, err)
	}
	def(&c.BrokerName, DefaultBrokerName)
	def(&c.ClusterName, DefaultClusterName)
	def(&c.DefaultTopicQueues, DefaultTopicQueues)
	def(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.MaxReceiveBatch, DefaultMaxReceiveBatch)
	def(&c.MinInvisible, DefaultMinInvisible)
	def(&c.MaxInvisible, DefaultMaxInvisible)
	def(&c.MaxLongPolling, DefaultMaxLongPolling)
	def(&c.SettingsTimeout, DefaultSettingsTimeout)
	if c.Delay != nil {
		p := *c.Delay // a copy: Validate fills defaults
		p.Validate()
		c.Delay = &p
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return host, nil
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Server implements rmqpb.MessagingServiceServer. RPCs it does not serve
// (PullMessage, EndTransaction, RecallMessage, lite topics) answer
// gRPC's UNIMPLEMENTED.
type Server struct {
	rmqpb.UnimplementedMessagingServiceServer

	cfg       Config
	log       *slog.Logger
	logs      *log.Log
	topics    *topics.Registry
	pop       *pop.Engine
	storeHost netip.AddrPort
	uniq      *remoting.UniqIDGenerator
	endpoints *rmqpb.Endpoints
	tls       *tls.Config

	mu      sync.Mutex         // guards clients
	clients map[string]*client // by client id, while its Telemetry stream is open

	ctx    context.Context // ends at Close; long polls end with it
	cancel context.CancelFunc

	metrics metrics // metrics.go
}

// New returns the adapter over the log service, the topic registry and
// the POP engine.
func New(cfg Config, logs *log.Log, reg *topics.Registry, engine *pop.Engine) (*Server, error) {
	storeHost, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	ep, err := endpointsOf(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Endpoint)
	tc, err := tlsConfig(cfg.TLSCertFile, cfg.TLSKeyFile, host, cfg.Now())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{tls: tc, cfg: cfg, log: cfg.Logger.With("component", "grpc"), logs: logs, topics: reg, pop: engine,
		storeHost: storeHost, uniq: remoting.NewUniqIDGenerator(storeHost.Addr(), os.Getpid(), 0, cfg.Now),
		endpoints: ep, clients: map[string]*client{}, ctx: ctx, cancel: cancel}, nil
}

// endpointsOf is the Endpoints message of host:port.
func endpointsOf(hostport string) (*rmqpb.Endpoints, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("grpcapi: endpoint %q: %w", hostport, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p > 65535 {
		return nil, fmt.Errorf("grpcapi: endpoint %q: bad port", hostport)
	}
	scheme := rmqpb.AddressScheme_DOMAIN_NAME
	if a, err := netip.ParseAddr(host); err == nil {
		scheme = rmqpb.AddressScheme_IPv4
		if a.Is6() && !a.Is4In6() {
			scheme = rmqpb.AddressScheme_IPv6
		}
	}
	return &rmqpb.Endpoints{Scheme: scheme, Addresses: []*rmqpb.Address{{Host: host, Port: int32(p)}}}, nil
}

// GRPCServer returns a grpc.Server with this adapter registered, TLS and
// plaintext on one port (tls.go), its message size bounded by the
// configured maximum (and a margin for the message's other fields).
func (s *Server) GRPCServer() *grpc.Server {
	g := grpc.NewServer(
		grpc.Creds(permissive{tls: credentials.NewTLS(s.tls)}),
		grpc.MaxRecvMsgSize(s.cfg.MaxMessageSize+1<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.UnaryInterceptor(s.unaryTimer), grpc.StreamInterceptor(s.streamTimer), // metrics.go
	)
	rmqpb.RegisterMessagingServiceServer(g, s)
	return g
}

// Serve serves ln until Stop; it returns when the listener fails or the
// server stops (nil then).
func Serve(g *grpc.Server, ln net.Listener) error {
	if err := g.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpcapi: serve: %w", err)
	}
	return nil
}

// Close ends the long polls and Telemetry streams in progress; stop the
// grpc.Server after it.
func (s *Server) Close() { s.cancel() }

// client is what the broker knows of one client (its Telemetry settings).
type client struct {
	typ   rmqpb.ClientType
	group string
	lang  rmqpb.Language // from its settings' user agent
}
