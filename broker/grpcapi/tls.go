package grpcapi

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"google.golang.org/grpc/credentials"
)

// The v5 Go client always dials with TLS (it skips verification by
// default), while the Java and other clients may dial plaintext: like
// RocketMQ's proxy in its "permissive" TLS mode, the listener looks at
// the first byte of each connection and runs a TLS handshake when it is a
// TLS handshake record (0x16), plaintext HTTP/2 otherwise.

// tlsHandshakeRecord is the first byte of a TLS ClientHello.
const tlsHandshakeRecord = 0x16

// permissive is grpc TransportCredentials for a server that accepts TLS
// and plaintext on one port.
type permissive struct {
	tls credentials.TransportCredentials
}

// plainInfo is the AuthInfo of a plaintext connection.
type plainInfo struct{ credentials.CommonAuthInfo }

func (plainInfo) AuthType() string { return "insecure" }

func (p permissive) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return nil, nil, fmt.Errorf("grpcapi: first byte: %w", err)
	}
	pc := &prefixConn{Conn: c, prefix: b[:]}
	if b[0] == tlsHandshakeRecord {
		return p.tls.ServerHandshake(pc)
	}
	return pc, plainInfo{credentials.CommonAuthInfo{SecurityLevel: credentials.NoSecurity}}, nil
}

func (p permissive) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("grpcapi: server-side credentials")
}

func (p permissive) Info() credentials.ProtocolInfo { return p.tls.Info() }

func (p permissive) Clone() credentials.TransportCredentials { return permissive{tls: p.tls.Clone()} }

func (p permissive) OverrideServerName(string) error { return nil }

// prefixConn replays the bytes already read before reading the conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// tlsConfig loads the configured key pair, or makes a self-signed one
// for the endpoint's host (clients skip verification by default).
func tlsConfig(certFile, keyFile, host string, now time.Time) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	if certFile != "" || keyFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	} else {
		cert, err = selfSigned(host, now)
	}
	if err != nil {
		return nil, fmt.Errorf("grpcapi: tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12}, nil
}

func selfSigned(host string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "twinmq"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else if host != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
