package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrInvalidACL marks an ACL or filter that cannot be stored or applied.
var ErrInvalidACL = errors.New("invalid acl")

// ErrCorruptFile marks an ACL or account file that does not parse.
var ErrCorruptFile = errors.New("auth: corrupt file")

// ACLFile is the name of the ACL file in the data directory.
//
// Layout, version 1 (JSON, one object):
//
//	{"version": 1, "acls": [ {"resourceType": 2, "name": "orders",
//	  "patternType": 3, "principal": "User:alice", "host": "*",
//	  "operation": 3, "permission": 3}, ... ]}
//
// The numbers are Kafka's wire codes (acl.go). The file is replaced
// atomically (write a temporary file, fsync, rename, fsync the directory),
// so a crash leaves the old set or the new one, never a mix. It is a file
// in the data directory, not an internal topic: each broker group keeps
// its own (docs/security.md says what that means for clusters).
const ACLFile = "acls.json"

const aclFileVersion = 1

type aclFile struct {
	Version int   `json:"version"`
	ACLs    []ACL `json:"acls"`
}

// Authorizer holds the ACLs (durably) and answers checks. Checks read an
// immutable snapshot through one atomic load and take no lock; changes
// (Create, Delete) are serialized by mu, written to the file, and then
// published as a new snapshot.
type Authorizer struct {
	dir string

	mu   sync.Mutex // guards acls and the file; never held by a check
	acls []ACL

	snap atomic.Pointer[snapshot]
	// extraSuper, if set, also makes a principal a super user (RocketMQ
	// admin accounts, accounts.go); read by checks, set once before use.
	extraSuper atomic.Pointer[func(Principal) bool]
}

type snapshot struct {
	x           *index
	super       map[Principal]bool
	allowIfNone bool
}

// OpenAuthorizer loads the ACLs of the data directory dir (none if it has
// no ACL file yet) under the policy pol. An empty dir keeps them in
// memory only (tests).
func OpenAuthorizer(dir string, pol Policy) (*Authorizer, error) {
	a := &Authorizer{dir: dir}
	if dir != "" {
		acls, err := readACLFile(filepath.Join(dir, ACLFile))
		if err != nil {
			return nil, err
		}
		a.acls = acls
	}
	super := make(map[Principal]bool, len(pol.SuperUsers))
	for _, p := range pol.SuperUsers {
		super[p] = true
	}
	a.snap.Store(&snapshot{x: newIndex(a.acls), super: super, allowIfNone: pol.AllowEveryoneIfNoACLFound})
	return a, nil
}

// ReadACLs reads the ACL file of a data directory (offline tools).
func ReadACLs(dir string) ([]ACL, error) { return readACLFile(filepath.Join(dir, ACLFile)) }

func readACLFile(path string) ([]ACL, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: read %s: %w", path, err)
	}
	var f aclFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptFile, path, err)
	}
	if f.Version != aclFileVersion {
		return nil, fmt.Errorf("%w: %s: version %d, want %d", ErrCorruptFile, path, f.Version, aclFileVersion)
	}
	for _, acl := range f.ACLs {
		if err := acl.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCorruptFile, path, err)
		}
	}
	return f.ACLs, nil
}

// SetExtraSuperUsers makes fn's principals super users too.
func (a *Authorizer) SetExtraSuperUsers(fn func(Principal) bool) { a.extraSuper.Store(&fn) }

// Check decides whether p, connected from host (an IP or "ip:port"), may
// do op on the resource (typ, name).
func (a *Authorizer) Check(p Principal, host string, op Operation, typ ResourceType, name string) Decision {
	s := a.snap.Load()
	if fn := a.extraSuper.Load(); fn != nil && (*fn)(p) {
		return Decision{true, "super user"}
	}
	return decide(s.x, s.super, s.allowIfNone, p, hostOf(host), op, typ, name)
}

// Authorize is Check's verdict.
func (a *Authorizer) Authorize(p Principal, host string, op Operation, typ ResourceType, name string) bool {
	return a.Check(p, host, op, typ, name).Allowed
}

// IsSuperUser says whether p may do anything.
func (a *Authorizer) IsSuperUser(p Principal) bool {
	if fn := a.extraSuper.Load(); fn != nil && (*fn)(p) {
		return true
	}
	return a.snap.Load().super[p]
}

// AuthorizeAny says whether p may do op on at least one resource of type
// typ (Kafka's authorizeByResourceType, KIP-679: InitProducerId without a
// transactional id needs IdempotentWrite on the cluster or Write on some
// topic). A deny of a literal wildcard or of an empty prefix rules out
// every resource; other denies cannot, since some other name may remain.
func (a *Authorizer) AuthorizeAny(p Principal, host string, op Operation, typ ResourceType) bool {
	if a.IsSuperUser(p) {
		return true
	}
	s := a.snap.Load()
	host = hostOf(host)
	t := &s.x.byType[typ]
	for _, d := range t.wildcard {
		if d.Permission == PermissionDeny && (d.Principal == p || d.Principal == "User:*") &&
			(d.Host == host || d.Host == Wildcard) && (d.Operation == op || d.Operation == OpAll) {
			return false
		}
	}
	none := len(t.wildcard) == 0 && len(t.literal) == 0 && len(t.prefixed) == 0
	if none && s.allowIfNone {
		return true
	}
	all := [][]ACL{t.wildcard}
	for _, l := range t.literal {
		all = append(all, l)
	}
	for _, l := range t.prefixed {
		all = append(all, l)
	}
	for _, list := range all {
		for _, g := range list {
			if g.Permission == PermissionAllow && (g.Principal == p || g.Principal == "User:*") &&
				(g.Host == host || g.Host == Wildcard) && implied(op, g.Operation) {
				// The allow's own name is one resource it grants
				// (for a prefix, the name equal to the prefix): a deny
				// covering it covers it.
				if decide(s.x, nil, false, p, host, op, typ, g.Name).Allowed {
					return true
				}
			}
		}
	}
	return false
}

// Create stores acls: an ACL already present is not added twice. errs[i]
// is why acls[i] was refused (ErrInvalidACL), nil for stored ones. err is
// a failure to write the file, in which case nothing changed.
func (a *Authorizer) Create(acls []ACL) (errs []error, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	errs = make([]error, len(acls))
	next := slices.Clone(a.acls)
	for i, acl := range acls {
		if errs[i] = acl.Validate(); errs[i] != nil {
			continue
		}
		if !slices.Contains(next, acl) {
			next = append(next, acl)
		}
	}
	return errs, a.publishLocked(next)
}

// Delete removes the ACLs each filter matches and returns them, per
// filter (an ACL matched by two filters is reported by both, as Kafka
// does). A filter that fails Validate removes nothing; errs says so.
func (a *Authorizer) Delete(filters []Filter) (deleted [][]ACL, errs []error, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	deleted, errs = make([][]ACL, len(filters)), make([]error, len(filters))
	gone := make([]bool, len(a.acls))
	for i, f := range filters {
		if errs[i] = f.Validate(); errs[i] != nil {
			continue
		}
		for j, acl := range a.acls {
			if f.Matches(acl) {
				deleted[i] = append(deleted[i], acl)
				gone[j] = true
			}
		}
	}
	var next []ACL
	for j, acl := range a.acls {
		if !gone[j] {
			next = append(next, acl)
		}
	}
	if len(next) == len(a.acls) {
		return deleted, errs, nil
	}
	if err := a.publishLocked(next); err != nil {
		return nil, nil, err
	}
	return deleted, errs, nil
}

// Describe returns the ACLs f matches, in the order they were created.
func (a *Authorizer) Describe(f Filter) []ACL {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []ACL
	for _, acl := range a.acls {
		if f.Matches(acl) {
			out = append(out, acl)
		}
	}
	return out
}

// publishLocked writes next to the file and then makes it the set checks
// read. On a write error nothing changes.
func (a *Authorizer) publishLocked(next []ACL) error {
	if a.dir != "" {
		b, err := json.Marshal(aclFile{Version: aclFileVersion, ACLs: next})
		if err != nil {
			return fmt.Errorf("auth: encode acls: %w", err)
		}
		if err := WriteFileAtomic(filepath.Join(a.dir, ACLFile), b, 0o644); err != nil {
			return err
		}
	}
	a.acls = next
	old := a.snap.Load()
	a.snap.Store(&snapshot{x: newIndex(next), super: old.super, allowIfNone: old.allowIfNone})
	return nil
}

// WriteFileAtomic replaces path with data: a temporary file in the same
// directory, fsync, rename over path, fsync the directory. A crash at any
// point leaves the old file or the new one.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("auth: chmod %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("auth: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("auth: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("auth: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("auth: rename %s: %w", tmp, err)
	}
	ok = true
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("auth: open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("auth: fsync %s: %w", dir, err)
	}
	return nil
}
