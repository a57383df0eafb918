package kafkaapi

import (
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/auth"
)

// fuzzUsers is a store with alice for the SASL fuzz targets.
func fuzzUsers(f *testing.F) *auth.Users {
	u, err := auth.OpenUsers(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range auth.Mechanisms {
		c, err := auth.PasswordCredential(m, "pw", auth.MinIterations)
		if err != nil {
			f.Fatal(err)
		}
		if err := u.Apply(auth.Change{Name: "alice", Mechanism: m, Credential: &c}); err != nil {
			f.Fatal(err)
		}
	}
	return u
}

// FuzzSASLAuthenticate feeds two arbitrary SaslAuthenticate tokens to
// every mechanism (SCRAM client-first and client-final, PLAIN,
// OAUTHBEARER): never a panic, never an authentication without valid
// credentials.
func FuzzSASLAuthenticate(f *testing.F) {
	users := fuzzUsers(f)
	f.Add([]byte("n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"), []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawLxyz,p=dHpbWQ=="))
	f.Add([]byte("n,a=alice,n=alice,r=abc,tokenauth=true"), []byte("c=,r=,p="))
	f.Add([]byte("\x00alice\x00pw"), []byte(""))
	f.Add([]byte("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.\x01\x01"), []byte("\x01"))
	h := &Handler{cfg: Config{Users: users, Now: time.Now}}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, mech := range KnownSASLMechanisms {
			s := h.newSession(mech)
			_, done, err := s.step(first)
			if err == nil && !done {
				_, done, err = s.step(second)
			}
			if err == nil && done && mech != mechOAuthBearer {
				// Only alice's password authenticates.
				if mech == mechPlain && string(first) != "\x00alice\x00pw" && string(first) != "alice\x00alice\x00pw" {
					t.Fatalf("PLAIN authenticated %q", first)
				}
				if s.principal() != auth.User("alice") {
					t.Fatalf("%s authenticated as %s", mech, s.principal())
				}
			}
		}
	})
}

// FuzzOAuthBearerToken checks the OAUTHBEARER initial-response parser and
// the unsecured-JWS validator on arbitrary input: no panic, and an
// accepted token has a subject and an expiry after now.
func FuzzOAuthBearerToken(f *testing.F) {
	f.Add("n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIiwiZXhwIjo5OTk5OTk5OTk5fQ.\x01\x01")
	f.Add("n,a=x,\x01host=h\x01auth=bearer a.b.\x01\x01")
	f.Add("y,,\x01auth=Bearer ..\x01\x01")
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, msg string) {
		tok, err := parseOAuthBearer([]byte(msg))
		if err != nil {
			return
		}
		sub, exp, err := validateUnsecuredJWS(tok, now)
		if err == nil && (sub == "" || !exp.After(now)) {
			t.Fatalf("accepted %q: sub %q exp %v", tok, sub, exp)
		}
	})
}
