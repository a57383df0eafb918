// Package auth is who a connection is and what it may do, shared by the
// Kafka, RocketMQ and gRPC adapters: one principal model for both
// protocols (docs/security.md). A SCRAM user, a TLS client certificate and
// a RocketMQ AccessKey all resolve to a Principal of the form "User:name",
// as Kafka writes principals in ACLs.
package auth

import "strings"

// Principal is a Kafka-style principal: "User:alice".
type Principal string

// Anonymous is the principal of a connection that has not authenticated
// (a PLAINTEXT listener, or before SASL completes), as Kafka names it.
const Anonymous Principal = "User:ANONYMOUS"

// User is the principal of the user called name.
func User(name string) Principal { return Principal("User:" + name) }

// Name is the part after "User:" (or the whole string for another type).
func (p Principal) Name() string {
	if _, name, ok := strings.Cut(string(p), ":"); ok {
		return name
	}
	return string(p)
}

// Type is the part before the colon ("User"), or "" when there is none.
func (p Principal) Type() string {
	if typ, _, ok := strings.Cut(string(p), ":"); ok {
		return typ
	}
	return ""
}
