package compattests

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/twinmq/twinmq/broker"
	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/broker/topics"
	"github.com/twinmq/twinmq/internal/testcerts"
	"github.com/twinmq/twinmq/netio"
	"github.com/twinmq/twinmq/storage"
)

// The users every secured broker has (both SCRAM mechanisms).
const (
	secUser     = "alice"
	secPassword = "alice-secret"
)

// secureKafka is an in-process broker with one listener of each security
// protocol, a CA with the server's certificate, and alice.
type secureKafka struct {
	addr  map[kafkaapi.SecurityProtocol]string // listener -> host:port
	ca    *testcerts.CA
	dir   string // certificate files
	caPEM string // ca.pem's path
	// clientCert and clientKey are a client certificate for
	// CN=alice,OU=eng signed by the CA (mutual TLS), as PEM files.
	clientCert, clientKey string
	users                 *auth.Users
}

// startSecureKafka serves PLAINTEXT, SSL (client certificates verified if
// given), SASL_PLAINTEXT and SASL_SSL over one store; every SASL mechanism
// is enabled.
func startSecureKafka(t *testing.T) *secureKafka {
	t.Helper()
	ctx := context.Background()
	log := kafkaLogger()
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	sk := &secureKafka{addr: map[kafkaapi.SecurityProtocol]string{}, ca: ca, dir: t.TempDir()}
	if sk.caPEM, _, _, err = ca.Files(sk.dir); err != nil {
		t.Fatal(err)
	}
	sk.clientCert, sk.clientKey = clientCertFiles(t, ca, sk.dir)
	store, err := storage.Open(ctx, storage.Config{Dir: t.TempDir(), SegmentSize: 64 << 20, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	id, stopID, err := broker.LoadIdentity(ctx, store, -1, log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := topics.Open(ctx, store, log)
	if err != nil {
		t.Fatal(err)
	}
	if sk.users, err = auth.OpenUsers(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, m := range auth.Mechanisms {
		c, err := auth.PasswordCredential(m, secPassword, auth.MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		if err := sk.users.Apply(auth.Change{Name: secUser, Mechanism: m, Credential: &c}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := kafkaapi.New(kafkaapi.Config{NodeID: id.NodeID, ClusterID: id.ClusterID, Logger: log,
		Users: sk.users, SASLMechanisms: kafkaapi.KnownSASLMechanisms}, store, reg)
	if err != nil {
		t.Fatal(err)
	}
	var srvs []*netio.Server
	for _, p := range []kafkaapi.SecurityProtocol{kafkaapi.Plaintext, kafkaapi.SSL, kafkaapi.SASLPlaintext, kafkaapi.SASLSSL} {
		ncfg := kafkaapi.ServerConfig("127.0.0.1:0", log)
		if p.TLS() {
			ncfg.TLS = ca.ServerConfig(tls.VerifyClientCertIfGiven)
		}
		l := h.Listener(string(p), p)
		srv, err := netio.New(ncfg, l)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, srv)
		port := srv.Addr().(*net.TCPAddr).Port
		l.SetAdvertised("127.0.0.1", int32(port))
		sk.addr[p] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if p == kafkaapi.Plaintext {
			h.SetAdvertised("127.0.0.1", int32(port))
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range srvs {
			_ = s.Shutdown(ctx)
		}
		reg.Close()
		stopID()
		_ = store.Close()
	})
	return sk
}

// clientCertFiles writes a client certificate and key for CN=alice,OU=eng.
func clientCertFiles(t *testing.T, ca *testcerts.CA, dir string) (certFile, keyFile string) {
	t.Helper()
	cert, err := ca.Client(pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	keyPEM, err := ca.ClientKeyPEM(cert)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// xdgSCRAMClient is sarama's SCRAMClient over xdg-go/scram, as sarama's
// own example builds it.
type xdgSCRAMClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *xdgSCRAMClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *xdgSCRAMClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *xdgSCRAMClient) Done() bool                            { return c.conv.Done() }
