package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// RocketMQ's plain ACL (the acl plugin's plain_acl.yml): accounts with an
// AccessKey and a SecretKey, an admin flag and an address whitelist, plus
// a global whitelist. An account named alice is the principal User:alice:
// what it may do on topics and groups is the ACL store's (acl.go), shared
// with Kafka; its topicPerms and groupPerms become ACLs (PermACLs).

// Sentinel errors of Authenticate; the RocketMQ adapter answers each with
// NO_PERMISSION (16).
var (
	ErrNoAccessKey      = errors.New("auth: no AccessKey in the request")
	ErrUnknownAccessKey = errors.New("auth: unknown AccessKey")
	ErrBadSignature     = errors.New("auth: signature check failed")
	ErrNotAdmin         = errors.New("auth: this request needs an admin account")
)

// AccountsFile is the accounts file in the data directory, mode 0600: the
// secret keys must be readable to check signatures (an HMAC needs the
// key itself), so the file is the secret.
//
// Layout, version 1 (JSON, one object):
//
//	{"version": 1, "globalWhiteRemoteAddresses": ["10.10.*.*"],
//	 "accounts": [{"name": "alice", "accessKey": "AK", "secretKey": "SK",
//	   "admin": false, "whiteRemoteAddress": "192.168.1.*"}]}
const AccountsFile = "rocketmq_accounts.json"

const accountsFileVersion = 1

// Account is one RocketMQ account.
type Account struct {
	Name      string `json:"name"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
	// Admin accounts may do anything, from both protocols (a super user),
	// and alone may send the destructive admin requests.
	Admin bool `json:"admin,omitempty"`
	// WhiteRemoteAddress, if set, lets requests naming this account from
	// a matching address through without a signature or permission check
	// (RocketMQ's whiteRemoteAddress; patterns as AddressMatches).
	WhiteRemoteAddress string `json:"whiteRemoteAddress,omitempty"`
}

type accountsFile struct {
	Version                    int       `json:"version"`
	GlobalWhiteRemoteAddresses []string  `json:"globalWhiteRemoteAddresses,omitempty"`
	Accounts                   []Account `json:"accounts"`
}

// Accounts holds the RocketMQ accounts (durably). Checks read a snapshot
// through one atomic load; changes are serialized by mu and written to
// the file before they are published.
type Accounts struct {
	dir  string
	mu   sync.Mutex // guards file writes
	snap atomic.Pointer[accountsFile]
}

// OpenAccounts loads the accounts of data directory dir ("" keeps them in
// memory only).
func OpenAccounts(dir string) (*Accounts, error) {
	a := &Accounts{dir: dir}
	f := &accountsFile{Version: accountsFileVersion}
	if dir != "" {
		path := filepath.Join(dir, AccountsFile)
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("auth: read %s: %w", path, err)
		default:
			if err := json.Unmarshal(b, f); err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrCorruptFile, path, err)
			}
			if f.Version != accountsFileVersion {
				return nil, fmt.Errorf("%w: %s: version %d, want %d", ErrCorruptFile, path, f.Version, accountsFileVersion)
			}
		}
	}
	a.snap.Store(f)
	return a, nil
}

// validate says why an account cannot be stored.
func (acc Account) validate() error {
	switch {
	case acc.Name == "" || strings.ContainsAny(acc.Name, ":; \t\n"):
		return fmt.Errorf("auth: %w: account name %q (no ':', ';' or spaces)", ErrInvalidACL, acc.Name)
	case len(acc.AccessKey) < 6 || len(acc.SecretKey) < 6:
		// RocketMQ's PlainPermissionManager refuses keys under 6 characters.
		return fmt.Errorf("auth: %w: accessKey and secretKey need 6 characters or more", ErrInvalidACL)
	}
	return nil
}

// Put creates or replaces the account of acc.Name. An AccessKey belongs to
// one account.
func (a *Accounts) Put(acc Account) error {
	if acc.AccessKey == "" {
		acc.AccessKey = acc.Name
	}
	if err := acc.validate(); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.snap.Load()
	next := *old
	next.Accounts = nil
	for _, o := range old.Accounts {
		if o.Name == acc.Name {
			continue
		}
		if o.AccessKey == acc.AccessKey {
			return fmt.Errorf("auth: %w: accessKey %q belongs to account %q", ErrInvalidACL, acc.AccessKey, o.Name)
		}
		next.Accounts = append(next.Accounts, o)
	}
	next.Accounts = append(next.Accounts, acc)
	return a.publishLocked(&next)
}

// Delete removes the account called name; false if there was none.
func (a *Accounts) Delete(name string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.snap.Load()
	next := *old
	next.Accounts = slices.DeleteFunc(slices.Clone(old.Accounts), func(o Account) bool { return o.Name == name })
	if len(next.Accounts) == len(old.Accounts) {
		return false, nil
	}
	return true, a.publishLocked(&next)
}

// SetGlobalWhitelist replaces the global whitelist: requests from these
// addresses pass without an AccessKey (RocketMQ's
// globalWhiteRemoteAddresses).
func (a *Accounts) SetGlobalWhitelist(addrs []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := *a.snap.Load()
	next.GlobalWhiteRemoteAddresses = slices.Clone(addrs)
	return a.publishLocked(&next)
}

// List returns the accounts (with their secret keys) and the global
// whitelist.
func (a *Accounts) List() ([]Account, []string) {
	s := a.snap.Load()
	return slices.Clone(s.Accounts), slices.Clone(s.GlobalWhiteRemoteAddresses)
}

func (a *Accounts) publishLocked(next *accountsFile) error {
	if a.dir != "" {
		b, err := json.MarshalIndent(next, "", "  ")
		if err != nil {
			return fmt.Errorf("auth: encode accounts: %w", err)
		}
		if err := WriteFileAtomic(filepath.Join(a.dir, AccountsFile), b, 0o600); err != nil {
			return err
		}
	}
	a.snap.Store(next)
	return nil
}

// IsAdmin says whether p is an admin account's principal.
func (a *Accounts) IsAdmin(p Principal) bool {
	if p.Type() != "User" {
		return false
	}
	for _, acc := range a.snap.Load().Accounts {
		if acc.Admin && acc.Name == p.Name() {
			return true
		}
	}
	return false
}

// Identity is who a RocketMQ request is.
type Identity struct {
	Principal Principal
	Admin     bool
	// Trusted: a whitelisted address; RocketMQ checks nothing more.
	Trusted bool
}

// Authenticate is RocketMQ's PlainPermissionManager.validate up to the
// permission checks: a request from a globally whitelisted address is
// trusted; else it must name an account (AccessKey); a request from that
// account's whitelisted address is trusted; else its Signature must
// verify under the account's secret key.
func (a *Accounts) Authenticate(fields map[string]string, body []byte, remoteIP string) (Identity, error) {
	s := a.snap.Load()
	for _, w := range s.GlobalWhiteRemoteAddresses {
		if AddressMatches(w, remoteIP) {
			return Identity{Principal: Anonymous, Trusted: true}, nil
		}
	}
	ak, ok := fields[FieldAccessKey]
	if !ok || ak == "" {
		return Identity{}, ErrNoAccessKey
	}
	i := slices.IndexFunc(s.Accounts, func(acc Account) bool { return acc.AccessKey == ak })
	if i < 0 {
		return Identity{}, fmt.Errorf("%w %q", ErrUnknownAccessKey, ak)
	}
	acc := s.Accounts[i]
	id := Identity{Principal: User(acc.Name), Admin: acc.Admin}
	if acc.WhiteRemoteAddress != "" && AddressMatches(acc.WhiteRemoteAddress, remoteIP) {
		id.Trusted = true
		return id, nil
	}
	if !VerifySignature(fields, body, acc.SecretKey) {
		return Identity{}, fmt.Errorf("%w for accessKey %q", ErrBadSignature, ak)
	}
	return id, nil
}

// AddressMatches says whether ip matches a RocketMQ address pattern: "*"
// (any), an exact address, or an IPv4 address whose dot-separated parts
// are each a number, "*", a range "1-5" or a set "{1,2,3}"
// ("192.168.*.*", "10.0.0.{1,2}", "10.0.0.1-9"). A shorter pattern
// ("192.168.*") matches the parts it names, as RocketMQ's does.
func AddressMatches(pattern, ip string) bool {
	pattern = strings.TrimSpace(pattern)
	if pattern == "*" || pattern == ip {
		return true
	}
	pp, ips := strings.Split(pattern, "."), strings.Split(ip, ".")
	if len(ips) != 4 || len(pp) > 4 || pattern == "" {
		return false
	}
	for i, p := range pp {
		if !partMatches(p, ips[i]) {
			return false
		}
	}
	return len(pp) == 4 || pp[len(pp)-1] == "*"
}

func partMatches(p, part string) bool {
	n, err := strconv.Atoi(part)
	if err != nil {
		return false
	}
	switch {
	case p == "*":
		return true
	case strings.HasPrefix(p, "{") && strings.HasSuffix(p, "}"):
		for _, s := range strings.Split(p[1:len(p)-1], ",") {
			if v, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && v == n {
				return true
			}
		}
		return false
	case strings.Contains(p, "-"):
		lo, hi, _ := strings.Cut(p, "-")
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		return err1 == nil && err2 == nil && l <= n && n <= h
	}
	v, err := strconv.Atoi(p)
	return err == nil && v == n
}

// PermACLs turns an account's RocketMQ permissions into ACLs for its
// principal: a topic's PUB is Write, SUB is Read, PUB|SUB both, DENY a
// deny of All; a group's SUB is Read (PUB means nothing for a group),
// DENY a deny of All. The defaults (defaultTopicPerm, defaultGroupPerm)
// become the same on the literal wildcard "*", except DENY, which adds
// nothing (with no allow, a topic is denied anyway, and a deny on "*"
// would win over every per-topic allow). perms are "name=PUB|SUB".
func PermACLs(p Principal, topicPerms, groupPerms []string, defaultTopic, defaultGroup string) ([]ACL, error) {
	var out []ACL
	add := func(typ ResourceType, name, perm string, isDefault bool) error {
		ops, deny, err := parsePerm(perm)
		if err != nil {
			return fmt.Errorf("%s %q: %w", typ, name, err)
		}
		if deny {
			if !isDefault {
				out = append(out, ACL{Resource: typ, Name: name, Pattern: PatternLiteral, Principal: p, Host: Wildcard,
					Operation: OpAll, Permission: PermissionDeny})
			}
			return nil
		}
		for _, op := range ops {
			if typ == ResourceGroup && op == OpWrite {
				continue
			}
			out = append(out, ACL{Resource: typ, Name: name, Pattern: PatternLiteral, Principal: p, Host: Wildcard,
				Operation: op, Permission: PermissionAllow})
		}
		return nil
	}
	for _, set := range []struct {
		typ   ResourceType
		perms []string
		def   string
	}{{ResourceTopic, topicPerms, defaultTopic}, {ResourceGroup, groupPerms, defaultGroup}} {
		if set.def != "" {
			if err := add(set.typ, Wildcard, set.def, true); err != nil {
				return nil, err
			}
		}
		for _, tp := range set.perms {
			name, perm, ok := strings.Cut(tp, "=")
			if !ok || name == "" {
				return nil, fmt.Errorf("auth: %w: %q is not name=PERM", ErrInvalidACL, tp)
			}
			if err := add(set.typ, name, perm, false); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// parsePerm reads DENY, PUB, SUB or PUB|SUB (RocketMQ's Permission).
func parsePerm(s string) (ops []Operation, deny bool, err error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DENY":
		return nil, true, nil
	case "PUB":
		return []Operation{OpWrite}, false, nil
	case "SUB":
		return []Operation{OpRead}, false, nil
	case "PUB|SUB", "SUB|PUB":
		return []Operation{OpWrite, OpRead}, false, nil
	}
	return nil, false, fmt.Errorf("auth: %w: permission %q (want DENY, PUB, SUB or PUB|SUB)", ErrInvalidACL, s)
}
