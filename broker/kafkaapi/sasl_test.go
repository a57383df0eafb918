package kafkaapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/twinmq/twinmq/broker/auth"
	"github.com/twinmq/twinmq/broker/kafkaapi"
	"github.com/twinmq/twinmq/internal/testcerts"
	"github.com/twinmq/twinmq/netio"
)

// testUsers makes a credential store with alice (both SCRAM mechanisms,
// password "alice-secret").
func testUsers(t testing.TB) *auth.Users {
	t.Helper()
	u, err := auth.OpenUsers(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range auth.Mechanisms {
		c, err := auth.PasswordCredential(m, "alice-secret", auth.MinIterations)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Apply(auth.Change{Name: "alice", Mechanism: m, Credential: &c}); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// unsecuredJWS is a token Kafka's unsecured validator accepts.
func unsecuredJWS(sub string, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(fmt.Sprintf(`{"sub":%q,"exp":%d,"iat":%d}`, sub, exp.Unix(), time.Now().Unix()-1))) + "."
}

func mechanism(name, user, password string) sasl.Mechanism {
	switch name {
	case "PLAIN":
		return plain.Auth{User: user, Pass: password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: password}.AsSha512Mechanism()
	}
	return oauth.Auth{Token: password}.AsMechanism()
}

// TestSASLFranzGo: franz-go produces and consumes over SASL_SSL and
// SASL_PLAINTEXT with every mechanism; a wrong password gets
// SASL_AUTHENTICATION_FAILED.
func TestSASLFranzGo(t *testing.T) {
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	users := testUsers(t)
	for _, proto := range []kafkaapi.SecurityProtocol{kafkaapi.SASLSSL, kafkaapi.SASLPlaintext} {
		b := startBrokerWith(t, brokerOpts{proto: proto, tls: ca.ServerConfig(tls.NoClientCert), users: users,
			mechanisms: kafkaapi.KnownSASLMechanisms})
		b.createTopic(t, "orders", 1)
		for _, mech := range kafkaapi.KnownSASLMechanisms {
			t.Run(string(proto)+"/"+mech, func(t *testing.T) {
				pw := "alice-secret"
				if mech == "OAUTHBEARER" {
					pw = unsecuredJWS("alice", time.Now().Add(time.Hour))
				}
				opts := []kgo.Opt{kgo.SeedBrokers(b.addr), kgo.SASL(mechanism(mech, "alice", pw)),
					kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.RequestRetries(0), kgo.RetryTimeout(5 * time.Second)}
				if proto.TLS() {
					opts = append(opts, kgo.DialTLSConfig(ca.ClientConfig()))
				}
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				val := []byte("via " + mech)
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: val}).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
				found := false
				for !found {
					fs := cl.PollFetches(ctx)
					if err := fs.Err0(); err != nil {
						t.Fatalf("fetch: %v", err)
					}
					fs.EachRecord(func(r *kgo.Record) { found = found || string(r.Value) == string(val) })
				}
			})
		}
		t.Run(string(proto)+"/wrong-password", func(t *testing.T) {
			for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"} {
				pw := "wrong"
				if mech == "OAUTHBEARER" {
					pw = unsecuredJWS("alice", time.Now().Add(-time.Minute)) // expired
				}
				opts := []kgo.Opt{kgo.SeedBrokers(b.addr), kgo.SASL(mechanism(mech, "alice", pw)), kgo.RequestRetries(0)}
				if proto.TLS() {
					opts = append(opts, kgo.DialTLSConfig(ca.ClientConfig()))
				}
				cl, err := kgo.NewClient(opts...)
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = cl.Ping(ctx)
				cancel()
				cl.Close()
				if !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Errorf("%s with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", mech, err)
				}
			}
		})
	}
}

// saslConn is a raw connection to a SASL listener.
func saslHandshake(t *testing.T, c *rawConn, v int16, mech string) *kmsg.SASLHandshakeResponse {
	t.Helper()
	req := kmsg.NewPtrSASLHandshakeRequest()
	req.Mechanism = mech
	return adminRoundTrip[*kmsg.SASLHandshakeResponse](t, c, req, v)
}

func saslAuth(t *testing.T, c *rawConn, v int16, token string) *kmsg.SASLAuthenticateResponse {
	t.Helper()
	req := kmsg.NewPtrSASLAuthenticateRequest()
	req.SASLAuthBytes = []byte(token)
	return adminRoundTrip[*kmsg.SASLAuthenticateResponse](t, c, req, v)
}

// expectClosed reads until the broker closes c.
func (r *rawConn) expectClosed(t *testing.T, what string) {
	t.Helper()
	if b, err := r.readFrame(10 * time.Second); err == nil {
		t.Fatalf("%s: got a %d-byte frame, want the connection closed", what, len(b))
	} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open", what)
	}
}

// TestSASLGate: nothing but ApiVersions and the SASL keys is served
// before authentication, an unauthenticated request over 512 KiB closes
// the connection, a v0 handshake's bare tokens work, and KIP-368's
// session lifetime and re-authentication are answered.
func TestSASLGate(t *testing.T) {
	b := startBrokerWith(t, brokerOpts{proto: kafkaapi.SASLPlaintext, users: testUsers(t), reauthMs: 60_000})

	c := dial(t, b.addr)
	av := kmsg.NewPtrApiVersionsRequest()
	if resp := adminRoundTrip[*kmsg.ApiVersionsResponse](t, c, av, 3); resp.ErrorCode != 0 || len(resp.ApiKeys) == 0 {
		t.Fatalf("ApiVersions before authentication: %d", resp.ErrorCode)
	}
	f, _ := c.frame(kmsg.NewPtrMetadataRequest())
	c.write(f)
	c.expectClosed(t, "Metadata before authentication")

	c = dial(t, b.addr)
	big := binary.BigEndian.AppendUint32(nil, kafkaapi.MaxPreAuthRequestSize+1)
	c.write(append(big, make([]byte, 64)...))
	c.expectClosed(t, "a 512 KiB+1 request before authentication")

	// Unsupported mechanism: the enabled ones are listed, then closed.
	c = dial(t, b.addr)
	if resp := saslHandshake(t, c, 1, "GSSAPI"); resp.ErrorCode != 33 || strings.Join(resp.SupportedMechanisms, ",") != "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Fatalf("GSSAPI: code %d mechanisms %v", resp.ErrorCode, resp.SupportedMechanisms)
	}
	c.expectClosed(t, "after an unsupported mechanism")

	// v1: session lifetime, re-authentication as the same user, then as
	// another (refused).
	c = dial(t, b.addr)
	if resp := saslHandshake(t, c, 1, "PLAIN"); resp.ErrorCode != 0 {
		t.Fatalf("handshake: %d", resp.ErrorCode)
	}
	resp := saslAuth(t, c, 1, "\x00alice\x00alice-secret")
	if resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 60_000 {
		t.Fatalf("authenticate: code %d lifetime %d", resp.ErrorCode, resp.SessionLifetimeMillis)
	}
	if m := adminRoundTrip[*kmsg.MetadataResponse](t, c, kmsg.NewPtrMetadataRequest(), 9); len(m.Brokers) != 1 {
		t.Fatalf("metadata after authentication: %+v", m.Brokers)
	}
	if resp := saslHandshake(t, c, 1, "SCRAM-SHA-256"); resp.ErrorCode != 0 {
		t.Fatalf("re-authentication handshake: %d", resp.ErrorCode)
	}
	if resp := saslAuth(t, c, 2, "n,,n=bob,r=abc"); resp.ErrorCode != 58 {
		t.Fatalf("re-authentication as unknown bob: %d", resp.ErrorCode)
	}
	c.expectClosed(t, "after a failed re-authentication")

	// v0: bare tokens.
	c = dial(t, b.addr)
	if resp := saslHandshake(t, c, 0, "PLAIN"); resp.ErrorCode != 0 {
		t.Fatalf("v0 handshake: %d", resp.ErrorCode)
	}
	tok := "\x00alice\x00alice-secret"
	c.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	if reply, err := c.readFrame(10 * time.Second); err != nil || len(reply) != 0 {
		t.Fatalf("v0 token reply %q %v, want an empty token", reply, err)
	}
	if m := adminRoundTrip[*kmsg.MetadataResponse](t, c, kmsg.NewPtrMetadataRequest(), 9); len(m.Brokers) != 1 {
		t.Fatalf("metadata after a v0 authentication: %+v", m.Brokers)
	}
	c = dial(t, b.addr)
	saslHandshake(t, c, 0, "PLAIN")
	tok = "\x00alice\x00nope"
	c.write(append(binary.BigEndian.AppendUint32(nil, uint32(len(tok))), tok...))
	c.expectClosed(t, "a wrong v0 token")
}

// recordingListener remembers its connections.
type recordingListener struct {
	*kafkaapi.Listener
	mu    sync.Mutex
	conns []*netio.Conn
}

func (l *recordingListener) OnOpen(c *netio.Conn) {
	l.Listener.OnOpen(c)
	l.mu.Lock()
	l.conns = append(l.conns, c)
	l.mu.Unlock()
}

// TestSSLClientCertPrincipal: on an SSL listener the principal is the
// client certificate's subject, as Kafka's default principal builder
// writes it; without a certificate (client auth "request") it is
// ANONYMOUS. franz-go produces over it.
func TestSSLClientCertPrincipal(t *testing.T) {
	ca, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	b := startBroker(t)
	l := &recordingListener{Listener: b.h.Listener("SSL", kafkaapi.SSL)}
	cfg := kafkaapi.ServerConfig("127.0.0.1:0", testLogger())
	cfg.TLS = ca.ServerConfig(tls.VerifyClientCertIfGiven)
	srv, err := netio.New(cfg, l)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	port := int32(srv.Addr().(*net.TCPAddr).Port)
	l.SetAdvertised("127.0.0.1", port)

	cert, err := ca.Client(pkix.Name{CommonName: "alice", OrganizationalUnit: []string{"eng"}, Organization: []string{"acme"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		certs []tls.Certificate
		want  auth.Principal
	}{{[]tls.Certificate{cert}, "User:CN=alice,OU=eng,O=acme"}, {nil, auth.Anonymous}} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(srv.Addr().String()), kgo.DialTLSConfig(ca.ClientConfig(tc.certs...)),
			kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: "mtls", Value: []byte("x")}).FirstErr()
		cancel()
		cl.Close()
		if err != nil {
			t.Fatalf("produce over SSL: %v", err)
		}
		l.mu.Lock()
		c := l.conns[len(l.conns)-1]
		l.mu.Unlock()
		if got := kafkaapi.PrincipalOf(c); got != tc.want {
			t.Errorf("principal %q, want %q", got, tc.want)
		}
	}
	// Metadata on this listener advertises this listener's port.
	c, err := tls.Dial("tcp", srv.Addr().String(), ca.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawConn{t: t, c: c, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))}
	t.Cleanup(func() { c.Close() })
	m := adminRoundTrip[*kmsg.MetadataResponse](t, rc, kmsg.NewPtrMetadataRequest(), 9)
	if len(m.Brokers) != 1 || m.Brokers[0].Port != port {
		t.Fatalf("Metadata brokers %+v, want port %d", m.Brokers, port)
	}
	if _, p := b.addr, m.Brokers[0].Port; fmt.Sprint(p) == strings.Split(b.addr, ":")[1] {
		t.Fatal("the SSL listener advertised the PLAINTEXT port")
	}
}

// TestAlterUserSCRAMOnline: an authenticated admin creates bob with
// kadm's AlterUserSCRAMs (salted on the client, as Kafka's tools do),
// DescribeUserSCRAMs lists him without secrets, bob logs in, a too-low
// iteration count gets UNACCEPTABLE_CREDENTIAL, and after deletion bob's
// login is refused.
func TestAlterUserSCRAMOnline(t *testing.T) {
	users := testUsers(t)
	b := startBrokerWith(t, brokerOpts{proto: kafkaapi.SASLPlaintext, users: users})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.SASL(mechanism("SCRAM-SHA-256", "alice", "alice-secret")))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-pw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := res["bob"].Err; err != nil {
		t.Fatalf("create bob: %v", err)
	}
	// kadm refuses 1000 iterations itself; a raw request reaches the broker.
	raw := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	up := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
	up.Name, up.Mechanism, up.Iterations, up.Salt, up.SaltedPassword = "carol", 1, 1000, []byte("salt"), []byte("salted")
	raw.Upsertions = append(raw.Upsertions, up)
	rresp, err := raw.RequestWith(ctx, admin)
	if err != nil || len(rresp.Results) != 1 || rresp.Results[0].ErrorCode != kerr.UnacceptableCredential.Code {
		t.Fatalf("carol with 1000 iterations: %v %+v", err, rresp)
	}
	desc, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(desc) != 2 || len(desc["bob"].CredInfos) != 1 || desc["bob"].CredInfos[0].Mechanism != kadm.ScramSha512 || desc["bob"].CredInfos[0].Iterations != 4096 {
		t.Fatalf("described %+v", desc)
	}
	login := func(pw string) error {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.SASL(mechanism("SCRAM-SHA-512", "bob", pw)), kgo.RequestRetries(0))
		if err != nil {
			return err
		}
		defer cl.Close()
		return cl.Ping(ctx)
	}
	if err := login("bob-pw"); err != nil {
		t.Fatalf("bob's login: %v", err)
	}
	if _, ok := users.Lookup("bob", auth.ScramSHA512); !ok {
		t.Fatal("bob not in the store")
	}
	res, err = adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "bob", Mechanism: kadm.ScramSha512}}, nil)
	if err != nil || res["bob"].Err != nil {
		t.Fatalf("delete bob: %v %v", err, res["bob"].Err)
	}
	if err := login("bob-pw"); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("bob's login after deletion: %v", err)
	}
}

// TestSASLSessionExpiry (KIP-368): once the session lifetime has passed
// (on the handler's clock), a request other than the SASL ones closes the
// connection; a client that re-authenticates in time keeps being served.
func TestSASLSessionExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	b := startBrokerWith(t, brokerOpts{proto: kafkaapi.SASLPlaintext, users: testUsers(t), reauthMs: 10_000, now: clock})
	login := func(c *rawConn) {
		t.Helper()
		if resp := saslHandshake(t, c, 1, "PLAIN"); resp.ErrorCode != 0 {
			t.Fatalf("handshake: %d", resp.ErrorCode)
		}
		if resp := saslAuth(t, c, 2, "\x00alice\x00alice-secret"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis != 10_000 {
			t.Fatalf("authenticate: %d, lifetime %d", resp.ErrorCode, resp.SessionLifetimeMillis)
		}
	}
	metadata := func(c *rawConn) {
		t.Helper()
		if m := adminRoundTrip[*kmsg.MetadataResponse](t, c, kmsg.NewPtrMetadataRequest(), 9); len(m.Brokers) != 1 {
			t.Fatalf("metadata: %+v", m.Brokers)
		}
	}
	c := dial(t, b.addr)
	login(c)
	advance(9 * time.Second)
	metadata(c)
	login(c) // re-authentication on the same connection: a new session
	advance(9 * time.Second)
	metadata(c) // 18 s after the first login, 9 s into the second session
	advance(2 * time.Second)
	f, _ := c.frame(kmsg.NewPtrMetadataRequest())
	c.write(f)
	c.expectClosed(t, "a request after the session expired")
}
