package kafkaapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/xdg-go/scram"

	"github.com/twinmq/twinmq/broker/auth"
)

// scramSession is SCRAM-SHA-256/512 (RFC 5802). xdg-go/scram's server
// reads the client-first message, looks the credential up and writes the
// server-first; the client-final is checked here, as Kafka's
// ScramSaslServer checks it: the nonce must end with the server's
// (librdkafka 2.0, kcat 1.7's, repeats the client's part before it, and
// xdg-go/scram requires it equal), and the proof is verified over the
// AuthMessage built from the client-final as sent.
type scramSession struct {
	users *auth.Users
	mech  auth.Mechanism
	conv  *scram.ServerConversation
	steps int

	// From the first exchange: the client-first without its GS2 header,
	// the GS2 header, the server-first, its nonce, and the credential.
	c1b, gs2, s1, nonce string
	cred                auth.Credential
}

func newScramSession(users *auth.Users, m auth.Mechanism) *scramSession {
	srv, err := m.HashGenerator().NewServer(func(name string) (scram.StoredCredentials, error) {
		if users != nil {
			if c, ok := users.Lookup(name, m); ok {
				return c.Stored(), nil
			}
		}
		return scram.StoredCredentials{}, auth.ErrNoCredential
	})
	if err != nil { // only for a nil lookup function
		return nil
	}
	return &scramSession{users: users, mech: m, conv: srv.WithNonceGenerator(scramNonce).NewConversation()}
}

// scramNonce is the server's part of the nonce: 32 letters and digits, as
// Kafka's ScramFormatter makes it (no ',' or '=' to escape).
func scramNonce() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func (s *scramSession) step(token []byte) ([]byte, bool, error) {
	if s == nil {
		return nil, false, errAuthFailed
	}
	s.steps++
	switch s.steps {
	case 1:
		return s.first(token)
	case 2:
		out, err := s.final(string(token))
		if err != nil {
			return nil, false, fmt.Errorf("%w during authentication due to invalid credentials with SASL mechanism %s: %v", errAuthFailed, s.mech, err)
		}
		return []byte(out), true, nil
	}
	return nil, false, fmt.Errorf("%w: SCRAM exchange already finished", errAuthFailed)
}

// first answers the client-first message.
func (s *scramSession) first(token []byte) ([]byte, bool, error) {
	// xdg-go/scram v1.1.2 indexes the GS2 flag unchecked: a client-first
	// message starting with ',' made it panic (FuzzSASLAuthenticate found
	// it).
	if len(token) == 0 || token[0] == ',' {
		return nil, false, fmt.Errorf("%w: invalid SCRAM client-first message", errAuthFailed)
	}
	if bytes.Contains(token, []byte("tokenauth=")) {
		return nil, false, fmt.Errorf("%w: delegation tokens are not supported", errAuthFailed)
	}
	c1 := string(token)
	out, err := s.conv.Step(c1)
	if err != nil {
		return nil, false, fmt.Errorf("%w during authentication due to invalid credentials with SASL mechanism %s", errAuthFailed, s.mech)
	}
	user := s.conv.Username()
	if a := s.conv.AuthzID(); a != "" && a != user {
		return nil, false, fmt.Errorf("%w: authorization id %q differs from user %q", errAuthFailed, a, user)
	}
	flag, rest, _ := strings.Cut(c1, ",")
	authz, bare, ok := strings.Cut(rest, ",")
	nonce, _, _ := strings.Cut(strings.TrimPrefix(out, "r="), ",")
	cred, found := s.users.Lookup(user, s.mech)
	if !ok || !found || !strings.HasPrefix(out, "r=") {
		return nil, false, fmt.Errorf("%w: invalid SCRAM client-first message", errAuthFailed)
	}
	s.gs2, s.c1b, s.s1, s.nonce, s.cred = flag+","+authz+",", bare, out, nonce, cred
	return []byte(out), false, nil
}

// final checks the client-final message ("c=..,r=..[,ext..],p=..") and
// returns the server-final ("v=<ServerSignature>").
func (s *scramSession) final(c2 string) (string, error) {
	fields := strings.Split(c2, ",")
	if len(fields) < 3 {
		return "", fmt.Errorf("client-final has %d fields", len(fields))
	}
	cbind, ok := strings.CutPrefix(fields[0], "c=")
	if !ok {
		return "", fmt.Errorf("client-final without channel binding")
	}
	if gs2, err := base64.StdEncoding.DecodeString(cbind); err != nil || string(gs2) != s.gs2 {
		return "", fmt.Errorf("channel binding does not match the GS2 header")
	}
	nonce, ok := strings.CutPrefix(fields[1], "r=")
	if !ok || !strings.HasSuffix(nonce, s.nonce) {
		return "", fmt.Errorf("invalid client nonce in the final client message")
	}
	last := fields[len(fields)-1]
	proofB64, ok := strings.CutPrefix(last, "p=")
	if !ok {
		return "", fmt.Errorf("client-final without proof")
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(s.cred.StoredKey) {
		return "", fmt.Errorf("invalid proof")
	}
	authMsg := []byte(s.c1b + "," + s.s1 + "," + c2[:len(c2)-len(last)-1])
	h := s.mech.Hash()
	mac := hmac.New(h, s.cred.StoredKey)
	mac.Write(authMsg)
	clientKey := mac.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	sum := h()
	sum.Write(clientKey)
	if !hmac.Equal(sum.Sum(nil), s.cred.StoredKey) {
		return "", fmt.Errorf("invalid proof")
	}
	mac = hmac.New(h, s.cred.ServerKey)
	mac.Write(authMsg)
	return "v=" + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

func (s *scramSession) principal() auth.Principal      { return auth.User(s.conv.Username()) }
func (*scramSession) lifetime(time.Time) time.Duration { return 0 }
