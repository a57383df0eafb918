// Package testcerts makes a throwaway certificate authority with a server
// certificate for 127.0.0.1 and localhost and client certificates, for
// tests of TLS listeners (netio, kafkaapi, compat-tests). ECDSA P-256 keys
// and one-day validity keep generation fast; nothing here is for production.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority and the server certificate it signed.
type CA struct {
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
	CertPEM []byte
	// Server is a certificate for 127.0.0.1, ::1 and localhost.
	Server tls.Certificate
	// ServerCertPEM and ServerKeyPEM are Server as PEM.
	ServerCertPEM, ServerKeyPEM []byte
	serial                      int64
}

// New makes a CA and its server certificate.
func New() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "twinmq test CA", Organization: []string{"twinmq"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
	ca.ServerCertPEM, ca.ServerKeyPEM, err = ca.issue(pkix.Name{CommonName: "localhost"}, true)
	if err != nil {
		return nil, err
	}
	ca.Server, err = tls.X509KeyPair(ca.ServerCertPEM, ca.ServerKeyPEM)
	return ca, err
}

// Client issues a client certificate with subject name.
func (ca *CA) Client(name pkix.Name) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.issue(name, false)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

func (ca *CA) issue(name pkix.Name, server bool) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      name,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// Pool is a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// ServerConfig is a server tls.Config with the server certificate; with
// clientAuth it asks for client certificates signed by the CA.
func (ca *CA) ServerConfig(clientAuth tls.ClientAuthType) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.Server}, ClientCAs: ca.Pool(), ClientAuth: clientAuth, MinVersion: tls.VersionTLS12}
}

// ClientConfig is a client tls.Config trusting the CA, presenting certs.
func (ca *CA) ClientConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), Certificates: certs, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Files writes ca.pem, server.pem and server.key into dir and returns
// their paths.
func (ca *CA) Files(dir string) (caFile, certFile, keyFile string, err error) {
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	for path, b := range map[string][]byte{caFile: ca.CertPEM, certFile: ca.ServerCertPEM, keyFile: ca.ServerKeyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return "", "", "", fmt.Errorf("testcerts: %w", err)
		}
	}
	return caFile, certFile, keyFile, nil
}

// ClientKeyPEM is the PEM of cert's private key (an ECDSA key made by
// Client), for clients that read keys from files (librdkafka, kcat).
func (ca *CA) ClientKeyPEM(cert tls.Certificate) ([]byte, error) {
	key, ok := cert.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("testcerts: not an ECDSA key")
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
