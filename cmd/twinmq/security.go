package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/twinmq/twinmq/broker/kafkaapi"
)

// Kafka listeners as Kafka configures them (docs/security.md):
// listeners "NAME://host:port,..." (kafkaAddr is the shorthand for a
// single PLAINTEXT listener), listenerSecurityProtocolMap "NAME:PROTOCOL,..."
// for names other than the protocols themselves, advertisedListeners
// "NAME://host:port,..." for what Metadata tells the clients of each.

// listenerSpec is one Kafka listener to serve.
type listenerSpec struct {
	name      string
	proto     kafkaapi.SecurityProtocol
	addr      string // listen host:port
	advertise string // advertised host:port ("" derive)
}

func addSecurityFlags(fs *pflag.FlagSet) {
	d := defaultConfig()
	fs.String("listeners", d.Listeners, "Kafka listeners, Kafka's syntax: 'PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9093' (empty: PLAINTEXT on --kafka-addr)")
	fs.String("advertised-listeners", d.AdvertisedListeners, "what each Kafka listener tells clients: 'SASL_SSL://broker1.example:9093,...' (empty: derive)")
	fs.String("listener-security-protocol-map", d.ListenerSecurityProtocolMap, "protocol of each custom listener name: 'CLIENT:SASL_SSL,INTERNAL:PLAINTEXT'")
	fs.String("tls-cert-file", d.TLSCertFile, "PEM certificate (chain) of the SSL and SASL_SSL listeners")
	fs.String("tls-key-file", d.TLSKeyFile, "PEM private key of --tls-cert-file")
	fs.String("tls-ca-file", d.TLSCAFile, "PEM CA certificates that sign client certificates (mutual TLS)")
	fs.String("tls-client-auth", d.TLSClientAuth, "client certificates on TLS listeners: none, request or require")
	fs.String("sasl-enabled-mechanisms", d.SASLEnabledMechanisms, "SASL mechanisms of the SASL listeners (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)")
	fs.Int64("connections-max-reauth-ms", d.ConnectionsMaxReauthMs, "SASL session lifetime before clients re-authenticate (KIP-368); 0: none")
}

// addTLSModeFlag is --tls-mode, for the commands with a RocketMQ port.
func addTLSModeFlag(fs *pflag.FlagSet) {
	fs.String("tls-mode", defaultConfig().TLSMode, "RocketMQ remoting and name-server ports: disabled, permissive (TLS and plaintext) or enforcing (TLS only); needs --tls-cert-file and --tls-key-file")
}

// RocketMQ's tlsMode values.
const (
	tlsDisabled   = "disabled"
	tlsPermissive = "permissive"
	tlsEnforcing  = "enforcing"
)

// rocketmqTLS is the TLS of the RocketMQ ports as tlsMode says: the
// servers' configuration (nil: disabled), whether plaintext clients are
// served too, and the configuration this broker dials name servers and
// other brokers with (set in enforcing mode only: they then refuse
// plaintext; it trusts tlsCaFile's CAs, or the system's).
type rocketmqTLS struct {
	server   *tls.Config
	optional bool
	client   *tls.Config
}

func (c *Config) rocketmqTLS() (rocketmqTLS, error) {
	if c.TLSMode == tlsDisabled {
		return rocketmqTLS{}, nil
	}
	srv, err := c.serverTLS()
	if err != nil {
		return rocketmqTLS{}, fmt.Errorf("tlsMode %s: %w", c.TLSMode, err)
	}
	out := rocketmqTLS{server: srv, optional: c.TLSMode == tlsPermissive}
	if c.TLSMode == tlsEnforcing {
		out.client = &tls.Config{MinVersion: tls.VersionTLS12}
		if c.TLSCAFile != "" {
			if out.client.RootCAs, err = loadCAs(c.TLSCAFile); err != nil {
				return rocketmqTLS{}, fmt.Errorf("tlsCaFile: %w", err)
			}
		}
	}
	return out, nil
}

// kafkaListeners parses the listener settings.
func (c *Config) kafkaListeners() ([]listenerSpec, error) {
	protoOf := map[string]kafkaapi.SecurityProtocol{}
	for _, p := range []kafkaapi.SecurityProtocol{kafkaapi.Plaintext, kafkaapi.SSL, kafkaapi.SASLPlaintext, kafkaapi.SASLSSL} {
		protoOf[string(p)] = p
	}
	for entry := range strings.SplitSeq(c.ListenerSecurityProtocolMap, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, proto, ok := strings.Cut(entry, ":")
		p, err := kafkaapi.ParseSecurityProtocol(proto)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("listenerSecurityProtocolMap entry %q: want NAME:PROTOCOL with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", entry)
		}
		protoOf[strings.ToUpper(name)] = p
	}
	raw := c.Listeners
	if strings.TrimSpace(raw) == "" {
		raw = "PLAINTEXT://" + c.KafkaAddr
	}
	var out []listenerSpec
	for entry := range strings.SplitSeq(raw, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, addr, err := splitListener(entry)
		if err != nil {
			return nil, fmt.Errorf("listeners: %w", err)
		}
		p, ok := protoOf[name]
		if !ok {
			return nil, fmt.Errorf("listeners: %q: no security protocol for listener name %s (set listenerSecurityProtocolMap)", entry, name)
		}
		if slices.ContainsFunc(out, func(l listenerSpec) bool { return l.name == name }) {
			return nil, fmt.Errorf("listeners: listener name %s twice", name)
		}
		out = append(out, listenerSpec{name: name, proto: p, addr: addr})
	}
	if len(out) == 0 {
		return nil, errors.New("listeners: none")
	}
	for entry := range strings.SplitSeq(c.AdvertisedListeners, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		name, addr, err := splitListener(entry)
		if err != nil {
			return nil, fmt.Errorf("advertisedListeners: %w", err)
		}
		i := slices.IndexFunc(out, func(l listenerSpec) bool { return l.name == name })
		if i < 0 {
			return nil, fmt.Errorf("advertisedListeners: %q names no listener", entry)
		}
		if host, port, _ := net.SplitHostPort(addr); host == "" || port == "0" {
			return nil, fmt.Errorf("advertisedListeners: %q needs a host and a port", entry)
		}
		out[i].advertise = addr
	}
	return out, nil
}

// splitListener splits "NAME://host:port".
func splitListener(entry string) (name, addr string, err error) {
	name, addr, ok := strings.Cut(entry, "://")
	if !ok || name == "" {
		return "", "", fmt.Errorf("%q: want NAME://host:port", entry)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", "", fmt.Errorf("%q: %w", entry, err)
	}
	return strings.ToUpper(name), addr, nil
}

// validateSecurity checks the listener, TLS and SASL settings.
func (c *Config) validateSecurity() []error {
	var errs []error
	ls, err := c.kafkaListeners()
	if err != nil {
		errs = append(errs, err)
	}
	c.TLSMode = strings.ToLower(c.TLSMode)
	switch c.TLSMode {
	case tlsDisabled, tlsPermissive, tlsEnforcing:
	default:
		errs = append(errs, fmt.Errorf("tlsMode %q: want disabled, permissive or enforcing", c.TLSMode))
	}
	needTLS := c.TLSMode != tlsDisabled || slices.ContainsFunc(ls, func(l listenerSpec) bool { return l.proto.TLS() })
	if needTLS && (c.TLSCertFile == "" || c.TLSKeyFile == "") {
		errs = append(errs, errors.New("an SSL or SASL_SSL listener, and tlsMode permissive or enforcing, need tlsCertFile and tlsKeyFile"))
	}
	c.TLSClientAuth = strings.ToLower(c.TLSClientAuth)
	switch c.TLSClientAuth {
	case "none", "request", "require":
	default:
		errs = append(errs, fmt.Errorf("tlsClientAuth %q: want none, request or require", c.TLSClientAuth))
	}
	if c.TLSClientAuth != "none" && c.TLSCAFile == "" {
		errs = append(errs, fmt.Errorf("tlsClientAuth %s needs tlsCaFile (the CA that signs client certificates)", c.TLSClientAuth))
	}
	if _, err := c.saslMechanisms(); err != nil {
		errs = append(errs, err)
	}
	if c.ConnectionsMaxReauthMs < 0 {
		errs = append(errs, fmt.Errorf("connectionsMaxReauthMs %d is negative", c.ConnectionsMaxReauthMs))
	}
	return errs
}

// saslMechanisms parses saslEnabledMechanisms.
func (c *Config) saslMechanisms() ([]string, error) {
	var out []string
	for m := range strings.SplitSeq(c.SASLEnabledMechanisms, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m == "" {
			continue
		}
		if !slices.Contains(kafkaapi.KnownSASLMechanisms, m) {
			return nil, fmt.Errorf("saslEnabledMechanisms: unknown mechanism %q (known: %s)", m, strings.Join(kafkaapi.KnownSASLMechanisms, ", "))
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("saslEnabledMechanisms is empty")
	}
	return out, nil
}

// serverTLS loads the TLS listeners' configuration.
func (c *Config) serverTLS() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsCertFile/tlsKeyFile: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSCAFile != "" {
		pool, err := loadCAs(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("tlsCaFile: %w", err)
		}
		tc.ClientCAs = pool
	}
	switch c.TLSClientAuth {
	case "request":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case "require":
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// loadCAs reads PEM certificates into a pool.
func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return pool, nil
}
