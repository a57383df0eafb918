package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// clientSecurity are the flags with which an admin command reaches a
// secured Kafka listener (docs/security.md): SASL credentials and TLS.
type clientSecurity struct {
	user, password, mechanism string
	tlsCAFile                 string
	tls                       bool
	// passwordFlag names --password's flag ("" is "password"): `twinmq
	// user create` takes the new user's password as --password and the
	// admin's as --admin-password.
	passwordFlag string
}

func (s *clientSecurity) add(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&s.user, "user", "", "SASL user name (for SASL_PLAINTEXT and SASL_SSL listeners)")
	name := s.passwordFlag
	if name == "" {
		name = "password"
	}
	f.StringVar(&s.password, name, "", "SASL password of --user")
	f.StringVar(&s.mechanism, "sasl-mechanism", "SCRAM-SHA-256", "SASL mechanism: SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN")
	f.StringVar(&s.tlsCAFile, "tls-ca-file", "", "PEM CA that signs the broker's certificate; connects over TLS")
	f.BoolVar(&s.tls, "tls", false, "connect over TLS, trusting the system's CAs (or --tls-ca-file's)")
}

// opts are the kgo options the flags ask for.
func (s *clientSecurity) opts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if s.tls || s.tlsCAFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.tlsCAFile != "" {
			pool, err := loadCAs(s.tlsCAFile)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca-file: %w", err)
			}
			tc.RootCAs = pool
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if s.user == "" && s.password == "" {
		return opts, nil
	}
	if s.user == "" || s.password == "" {
		return nil, errors.New("--user and its password go together")
	}
	switch strings.ToUpper(s.mechanism) {
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: s.user, Pass: s.password}.AsSha512Mechanism()))
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: s.user, Pass: s.password}.AsMechanism()))
	default:
		return nil, fmt.Errorf("--sasl-mechanism %q: want SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN", s.mechanism)
	}
	return opts, nil
}
