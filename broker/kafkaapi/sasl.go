package kafkaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/twinmq/twinmq/broker/auth"
)

// SASL on a SASL_PLAINTEXT or SASL_SSL listener (KIP-43, KIP-152):
// SaslHandshake picks a mechanism, SaslAuthenticate carries its tokens
// until the mechanism has authenticated the client; until then the
// connection may send only ApiVersions, SaslHandshake and
// SaslAuthenticate, and requests of at most 512 KiB. A v0 SaslHandshake
// is followed by bare tokens (4-byte length and the token, no Kafka
// header), as clients before KIP-152 send them.
//
// Mechanisms: PLAIN (RFC 4616) checked against the user's SCRAM
// credential; SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, xdg-go/scram);
// OAUTHBEARER (RFC 7628) with Kafka's unsecured-JWS validator semantics
// (OAuthBearerUnsecuredJws: alg "none", "sub" the principal, "exp"
// required and in the future), which Kafka ships for testing and
// development only, as this is.
//
// KIP-368: with Config.ReauthMs set, SaslAuthenticate tells the client
// how long its session lasts; a request other than the SASL ones after
// that closes the connection, and a client re-authenticates on the same
// connection with a new SaslHandshake, as the same principal.

// Mechanism names as Kafka spells them.
const (
	mechPlain       = "PLAIN"
	mechOAuthBearer = "OAUTHBEARER"
)

// DefaultSASLMechanisms is sasl.enabled.mechanisms' default here.
var DefaultSASLMechanisms = []string{mechPlain, string(auth.ScramSHA256), string(auth.ScramSHA512)}

// KnownSASLMechanisms are the mechanisms twinmq serves.
var KnownSASLMechanisms = []string{mechPlain, string(auth.ScramSHA256), string(auth.ScramSHA512), mechOAuthBearer}

// errAuthFailed is a refused authentication; its text goes to the client.
var errAuthFailed = errors.New("authentication failed")

// saslState is a connection's SASL exchange; connState.mu guards it.
type saslState struct {
	mech    string      // chosen by the last SaslHandshake, "" before
	session saslSession // nil when no exchange is in progress
	authed  bool        // a previous exchange succeeded (re-authentication)
}

// saslSession is one mechanism's server side of an exchange.
type saslSession interface {
	// step takes the client's next token and returns the server's;
	// done once the client is authenticated as principal.
	step(token []byte) (challenge []byte, done bool, err error)
	principal() auth.Principal
	// lifetime bounds the session (an OAUTHBEARER token's exp); 0: none.
	lifetime(now time.Time) time.Duration
}

// newSession starts mech's server side.
func (h *Handler) newSession(mech string) saslSession {
	switch mech {
	case mechPlain:
		return &plainSession{users: h.cfg.Users}
	case string(auth.ScramSHA256), string(auth.ScramSHA512):
		return newScramSession(h.cfg.Users, auth.Mechanism(mech))
	case mechOAuthBearer:
		return &oauthSession{now: h.cfg.Now}
	}
	return nil
}

// saslEnabled reports whether mech is enabled on this broker.
func (h *Handler) saslEnabled(mech string) bool {
	return slices.Contains(h.cfg.SASLMechanisms, mech)
}

// plainSession is SASL/PLAIN: one token "authzid NUL user NUL password".
type plainSession struct {
	users *auth.Users
	user  string
}

func (s *plainSession) step(token []byte) ([]byte, bool, error) {
	authzid, user, password, err := parsePlain(token)
	if err != nil {
		return nil, false, err
	}
	if authzid != "" && authzid != user {
		return nil, false, fmt.Errorf("%w: authorization id %q differs from user %q", errAuthFailed, authzid, user)
	}
	if s.users == nil || !s.users.VerifyPlain(user, password) {
		return nil, false, fmt.Errorf("%w: Invalid username or password", errAuthFailed)
	}
	s.user = user
	return nil, true, nil
}

func (s *plainSession) principal() auth.Principal      { return auth.User(s.user) }
func (*plainSession) lifetime(time.Time) time.Duration { return 0 }

// parsePlain splits a PLAIN token (RFC 4616).
func parsePlain(token []byte) (authzid, user, password string, err error) {
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return "", "", "", fmt.Errorf("%w: invalid SASL/PLAIN token", errAuthFailed)
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}

// oauthSession is OAUTHBEARER with unsecured JWS tokens. A token the
// validator refuses is answered as RFC 7628 section 3.2.2 and Kafka's
// OAuthBearerSaslServer answer it: an error challenge
// {"status":"invalid_token"}, to which the client replies 0x01, and then
// SASL_AUTHENTICATION_FAILED with that JSON as the message.
type oauthSession struct {
	now     func() time.Time
	sub     string
	exp     time.Time
	refused error // the validator's reason, once the error challenge went out
}

// oauthInvalidToken is the error challenge Kafka sends.
const oauthInvalidToken = `{"status":"invalid_token"}`

func (s *oauthSession) step(token []byte) ([]byte, bool, error) {
	if s.refused != nil {
		return nil, false, fmt.Errorf("%w: %s (%v)", errAuthFailed, oauthInvalidToken, s.refused)
	}
	jws, err := parseOAuthBearer(token)
	if err != nil {
		return nil, false, err
	}
	sub, exp, err := validateUnsecuredJWS(jws, s.now())
	if err != nil {
		s.refused = err
		return []byte(oauthInvalidToken), false, nil
	}
	s.sub, s.exp = sub, exp
	return nil, true, nil
}

func (s *oauthSession) principal() auth.Principal { return auth.User(s.sub) }

func (s *oauthSession) lifetime(now time.Time) time.Duration {
	return max(s.exp.Sub(now), time.Millisecond)
}

// parseOAuthBearer takes the token out of an OAUTHBEARER client's initial
// response (RFC 7628 section 3.1): "n,[a=authzid]," then key=value pairs
// separated by 0x01, one of them "auth=Bearer <token>", ending "\x01\x01".
func parseOAuthBearer(msg []byte) (string, error) {
	s := string(msg)
	gs2, rest, ok := strings.Cut(s, "\x01")
	if !ok || !strings.HasPrefix(gs2, "n,") && !strings.HasPrefix(gs2, "y,") {
		return "", fmt.Errorf("%w: invalid OAUTHBEARER initial response", errAuthFailed)
	}
	if !strings.HasSuffix(rest, "\x01") {
		return "", fmt.Errorf("%w: invalid OAUTHBEARER initial response", errAuthFailed)
	}
	for kv := range strings.SplitSeq(strings.TrimSuffix(rest, "\x01"), "\x01") {
		if v, ok := strings.CutPrefix(kv, "auth="); ok {
			scheme, tok, ok := strings.Cut(v, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
				return "", fmt.Errorf("%w: invalid OAUTHBEARER auth value", errAuthFailed)
			}
			return strings.TrimSpace(tok), nil
		}
	}
	return "", fmt.Errorf("%w: OAUTHBEARER initial response without auth", errAuthFailed)
}

// validateUnsecuredJWS checks an unsecured JWS (RFC 7515 appendix A.5) as
// Kafka's OAuthBearerUnsecuredJws and its validator do: three
// dot-separated base64url parts, the last empty; a header with "alg":
// "none"; a "sub" claim (the principal) and an "exp" claim (seconds,
// possibly fractional) after now; "iat", if present, not after now.
func validateUnsecuredJWS(jws string, now time.Time) (sub string, exp time.Time, err error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 || parts[2] != "" {
		return "", time.Time{}, fmt.Errorf("%w: not an unsecured JWS (header.payload.)", errAuthFailed)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeJWSPart(parts[0], &hdr); err != nil || hdr.Alg != "none" {
		return "", time.Time{}, fmt.Errorf("%w: JWS header must say \"alg\":\"none\"", errAuthFailed)
	}
	var claims struct {
		Sub *string  `json:"sub"`
		Exp *float64 `json:"exp"`
		Iat *float64 `json:"iat"`
	}
	if err := decodeJWSPart(parts[1], &claims); err != nil {
		return "", time.Time{}, fmt.Errorf("%w: JWS claims: %v", errAuthFailed, err)
	}
	if claims.Sub == nil || strings.TrimSpace(*claims.Sub) == "" {
		return "", time.Time{}, fmt.Errorf("%w: no \"sub\" claim", errAuthFailed)
	}
	if claims.Exp == nil || math.IsNaN(*claims.Exp) || math.IsInf(*claims.Exp, 0) || *claims.Exp > 1e12 || *claims.Exp < 0 {
		return "", time.Time{}, fmt.Errorf("%w: no valid \"exp\" claim", errAuthFailed)
	}
	exp = time.UnixMilli(int64(*claims.Exp * 1000))
	if !exp.After(now) {
		return "", time.Time{}, fmt.Errorf("%w: the token expired at %s", errAuthFailed, exp.UTC().Format(time.RFC3339))
	}
	if claims.Iat != nil && time.UnixMilli(int64(*claims.Iat*1000)).After(now) {
		return "", time.Time{}, fmt.Errorf("%w: the token's \"iat\" is in the future", errAuthFailed)
	}
	return *claims.Sub, exp, nil
}

// decodeJWSPart decodes one base64url part (padding tolerated) as JSON.
func decodeJWSPart(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(part, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
