package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/xdg-go/scram"
)

// SCRAM credentials (RFC 5802, Kafka's KIP-84/KIP-554) stored per user
// and mechanism. Passwords are never stored: a credential is the salt,
// the iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key"))
// and ServerKey = HMAC(SaltedPassword, "Server Key"), as Kafka keeps them.
//
// # File layout (version 1)
//
// One JSON file, UsersFile, in the data directory, replaced whole on every
// change (write to a temporary file, fsync, rename, fsync the directory),
// so a crash leaves the old or the new set, never a torn one:
//
//	{"version":1,"users":{"alice":{"SCRAM-SHA-256":
//	    {"iterations":8192,"salt":"<base64>","storedKey":"<base64>","serverKey":"<base64>"}}}}

// UsersFile is the credentials file's name in the data directory.
const UsersFile = "scram-credentials.json"

// usersFileVersion is the layout above.
const usersFileVersion = 1

// Mechanism is a SCRAM mechanism name as Kafka spells it.
type Mechanism string

const (
	ScramSHA256 Mechanism = "SCRAM-SHA-256"
	ScramSHA512 Mechanism = "SCRAM-SHA-512"
)

// Mechanisms are the SCRAM mechanisms twinmq stores, strongest first (the
// order PLAIN tries them in).
var Mechanisms = []Mechanism{ScramSHA512, ScramSHA256}

// Iteration bounds, Kafka's (ScramMechanism minIterations/maxIterations).
const (
	MinIterations     = 4096
	MaxIterations     = 16384
	DefaultIterations = 8192
)

var (
	// ErrUnknownMechanism: not SCRAM-SHA-256 or SCRAM-SHA-512.
	ErrUnknownMechanism = errors.New("auth: unknown SCRAM mechanism")
	// ErrBadCredential: an empty user name or password, iterations out
	// of bounds, an empty salt.
	ErrBadCredential = errors.New("auth: unacceptable credential")
	// ErrNoCredential: the user has no credential for the mechanism.
	ErrNoCredential = errors.New("auth: no such credential")
	// ErrCorruptUsers: the credentials file cannot be read.
	ErrCorruptUsers = errors.New("auth: corrupt credentials file")
)

// ParseMechanism checks a mechanism name.
func ParseMechanism(s string) (Mechanism, error) {
	switch m := Mechanism(s); m {
	case ScramSHA256, ScramSHA512:
		return m, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownMechanism, s)
}

// Hash is the mechanism's hash function.
func (m Mechanism) Hash() func() hash.Hash {
	if m == ScramSHA512 {
		return sha512.New
	}
	return sha256.New
}

// HashGenerator is the mechanism's xdg-go/scram hash.
func (m Mechanism) HashGenerator() scram.HashGeneratorFcn {
	if m == ScramSHA512 {
		return scram.SHA512
	}
	return scram.SHA256
}

// Credential is one user's SCRAM credential for one mechanism.
type Credential struct {
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"storedKey"`
	ServerKey  []byte `json:"serverKey"`
}

// Stored is the credential as xdg-go/scram's server looks it up.
func (c Credential) Stored() scram.StoredCredentials {
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iterations},
		StoredKey: c.StoredKey, ServerKey: c.ServerKey}
}

// SaltedPassword is SCRAM's Hi(password, salt, iterations) (PBKDF2 with
// the mechanism's HMAC), what AlterUserScramCredentials carries.
func SaltedPassword(m Mechanism, password string, salt []byte, iterations int) []byte {
	h := m.Hash()
	k, err := pbkdf2.Key(h, password, salt, iterations, h().Size())
	if err != nil {
		return nil // FIPS-only refusals (short salts); NewCredential then refuses the empty key
	}
	return k
}

// NewCredential derives a credential from a salted password.
func NewCredential(m Mechanism, salt, salted []byte, iterations int) (Credential, error) {
	if _, err := ParseMechanism(string(m)); err != nil {
		return Credential{}, err
	}
	if iterations < MinIterations || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("%w: iterations %d outside [%d, %d]", ErrBadCredential, iterations, MinIterations, MaxIterations)
	}
	if len(salt) == 0 || len(salted) == 0 {
		return Credential{}, fmt.Errorf("%w: empty salt or salted password", ErrBadCredential)
	}
	h := m.Hash()
	mac := hmac.New(h, salted)
	mac.Write([]byte("Client Key"))
	clientKey := mac.Sum(nil)
	sum := h()
	sum.Write(clientKey)
	mac = hmac.New(h, salted)
	mac.Write([]byte("Server Key"))
	return Credential{Iterations: iterations, Salt: slices.Clone(salt), StoredKey: sum.Sum(nil), ServerKey: mac.Sum(nil)}, nil
}

// PasswordCredential derives a credential from a password with a fresh
// random salt.
func PasswordCredential(m Mechanism, password string, iterations int) (Credential, error) {
	if password == "" {
		return Credential{}, fmt.Errorf("%w: empty password", ErrBadCredential)
	}
	if iterations == 0 {
		iterations = DefaultIterations
	}
	// 24 bytes: base64 without padding. librdkafka 2.0 (kcat 1.7)
	// decodes a padded salt wrongly and its proofs then fail (found with
	// a 32-byte salt); kadm salts with 24 bytes too.
	salt := make([]byte, 24)
	if _, err := rand.Read(salt); err != nil {
		return Credential{}, fmt.Errorf("auth: salt: %w", err)
	}
	if iterations < MinIterations || iterations > MaxIterations {
		return Credential{}, fmt.Errorf("%w: iterations %d outside [%d, %d]", ErrBadCredential, iterations, MinIterations, MaxIterations)
	}
	return NewCredential(m, salt, SaltedPassword(m, password, salt, iterations), iterations)
}

// Verify reports whether password matches c (SASL/PLAIN against a SCRAM
// entry), in constant time for the comparison.
func (c Credential) Verify(m Mechanism, password string) bool {
	d, err := NewCredential(m, c.Salt, SaltedPassword(m, password, c.Salt, c.Iterations), c.Iterations)
	return err == nil && hmac.Equal(d.StoredKey, c.StoredKey)
}

// Users is the durable set of SCRAM credentials. Its methods are safe
// from any goroutine; mu guards users and serializes the file's writes.
type Users struct {
	path  string
	mu    sync.Mutex
	users map[string]map[Mechanism]Credential
}

type usersFile struct {
	Version int                                 `json:"version"`
	Users   map[string]map[Mechanism]Credential `json:"users"`
}

// OpenUsers reads the credentials in dir (none if the file is absent).
func OpenUsers(dir string) (*Users, error) {
	u := &Users{path: filepath.Join(dir, UsersFile), users: map[string]map[Mechanism]Credential{}}
	b, err := os.ReadFile(u.path)
	if errors.Is(err, os.ErrNotExist) {
		return u, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	var f usersFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptUsers, u.path, err)
	}
	if f.Version != usersFileVersion {
		return nil, fmt.Errorf("%w: %s: version %d", ErrCorruptUsers, u.path, f.Version)
	}
	for name, creds := range f.Users {
		for m, c := range creds {
			if _, err := ParseMechanism(string(m)); err != nil || c.Iterations < MinIterations || c.Iterations > MaxIterations || len(c.StoredKey) == 0 || len(c.Salt) == 0 {
				return nil, fmt.Errorf("%w: %s: user %q %s", ErrCorruptUsers, u.path, name, m)
			}
		}
		if len(creds) > 0 {
			u.users[name] = creds
		}
	}
	return u, nil
}

// Lookup returns name's credential for m.
func (u *Users) Lookup(name string, m Mechanism) (Credential, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.users[name][m]
	return c, ok
}

// Mechanisms returns the mechanisms name has credentials for, with their
// iteration counts.
func (u *Users) Mechanisms(name string) map[Mechanism]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := map[Mechanism]int{}
	for m, c := range u.users[name] {
		out[m] = c.Iterations
	}
	return out
}

// Names lists the users with a credential, sorted.
func (u *Users) Names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Sorted(maps.Keys(u.users))
}

// VerifyPlain checks a password (SASL/PLAIN) against name's strongest
// SCRAM credential.
func (u *Users) VerifyPlain(name, password string) bool {
	for _, m := range Mechanisms {
		if c, ok := u.Lookup(name, m); ok {
			return c.Verify(m, password)
		}
	}
	return false
}

// Change is one upsertion (Credential set) or deletion of a user's
// credential for a mechanism.
type Change struct {
	Name       string
	Mechanism  Mechanism
	Credential *Credential // nil: delete
}

// Apply makes the changes durable together: all or none. A deletion of a
// credential that does not exist fails with ErrNoCredential.
func (u *Users) Apply(changes ...Change) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	next := make(map[string]map[Mechanism]Credential, len(u.users))
	for name, creds := range u.users {
		next[name] = maps.Clone(creds)
	}
	for _, ch := range changes {
		if ch.Name == "" {
			return fmt.Errorf("%w: empty user name", ErrBadCredential)
		}
		if _, err := ParseMechanism(string(ch.Mechanism)); err != nil {
			return err
		}
		if ch.Credential == nil {
			if _, ok := next[ch.Name][ch.Mechanism]; !ok {
				return fmt.Errorf("%w: %s %s", ErrNoCredential, ch.Name, ch.Mechanism)
			}
			delete(next[ch.Name], ch.Mechanism)
			if len(next[ch.Name]) == 0 {
				delete(next, ch.Name)
			}
			continue
		}
		if next[ch.Name] == nil {
			next[ch.Name] = map[Mechanism]Credential{}
		}
		next[ch.Name][ch.Mechanism] = *ch.Credential
	}
	if err := writeAtomic(u.path, usersFile{Version: usersFileVersion, Users: next}); err != nil {
		return err
	}
	u.users = next
	return nil
}

// writeAtomic replaces path with v as JSON: temporary file, fsync,
// rename, fsync of the directory.
func writeAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("auth: fsync %s: %w", dir, err)
	}
	return nil
}
