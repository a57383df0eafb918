package auth

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func allow(p Principal, op Operation, typ ResourceType, pat PatternType, name string) ACL {
	return ACL{Resource: typ, Name: name, Pattern: pat, Principal: p, Host: Wildcard, Operation: op, Permission: PermissionAllow}
}

func deny(p Principal, op Operation, typ ResourceType, pat PatternType, name string) ACL {
	a := allow(p, op, typ, pat, name)
	a.Permission = PermissionDeny
	return a
}

func TestAuthorize(t *testing.T) {
	alice, bob := User("alice"), User("bob")
	acls := []ACL{
		allow(alice, OpRead, ResourceTopic, PatternLiteral, "orders"),
		allow(alice, OpWrite, ResourceTopic, PatternPrefixed, "app-"),
		deny(alice, OpWrite, ResourceTopic, PatternLiteral, "app-secret"),
		allow("User:*", OpRead, ResourceTopic, PatternLiteral, "public"),
		allow(bob, OpAll, ResourceTopic, PatternLiteral, Wildcard),
		deny(bob, OpDescribe, ResourceTopic, PatternLiteral, "hidden"),
		allow(alice, OpAlterConfigs, ResourceCluster, PatternLiteral, ClusterName),
		{Resource: ResourceGroup, Name: "g", Pattern: PatternLiteral, Principal: alice, Host: "10.0.0.1", Operation: OpRead, Permission: PermissionAllow},
	}
	for _, allowIfNone := range []bool{false, true} {
		a, err := OpenAuthorizer("", Policy{SuperUsers: []Principal{User("admin")}, AllowEveryoneIfNoACLFound: allowIfNone})
		if err != nil {
			t.Fatal(err)
		}
		if errs, err := a.Create(acls); err != nil || errs[0] != nil {
			t.Fatal(errs, err)
		}
		for _, tc := range []struct {
			p    Principal
			host string
			op   Operation
			typ  ResourceType
			name string
			want bool
		}{
			{alice, "1.2.3.4:5", OpRead, ResourceTopic, "orders", true},
			{alice, "1.2.3.4:5", OpDescribe, ResourceTopic, "orders", true}, // implied by Read
			{alice, "1.2.3.4:5", OpWrite, ResourceTopic, "orders", false},
			{alice, "1.2.3.4:5", OpWrite, ResourceTopic, "app-x", true},         // prefixed
			{alice, "1.2.3.4:5", OpWrite, ResourceTopic, "app-secret", false},   // deny wins
			{alice, "1.2.3.4:5", OpDescribe, ResourceTopic, "app-secret", true}, // deny Write does not deny Describe
			{alice, "1.2.3.4:5", OpWrite, ResourceTopic, "app", false},
			{bob, "1.2.3.4:5", OpRead, ResourceTopic, "public", true}, // User:*
			{bob, "1.2.3.4:5", OpDelete, ResourceTopic, "anything", true},
			{bob, "1.2.3.4:5", OpDescribe, ResourceTopic, "hidden", false},
			{bob, "1.2.3.4:5", OpRead, ResourceTopic, "hidden", true}, // only Describe is denied
			{alice, "1.2.3.4:5", OpDescribeConfigs, ResourceCluster, ClusterName, true},
			{alice, "1.2.3.4:5", OpAlter, ResourceCluster, ClusterName, false},
			{alice, "10.0.0.1:999", OpRead, ResourceGroup, "g", true},
			{alice, "10.0.0.2:999", OpRead, ResourceGroup, "g", false}, // host
			{User("admin"), "x", OpDelete, ResourceCluster, ClusterName, true},
			{alice, "1.2.3.4:5", OpRead, ResourceTransactionalID, "t", allowIfNone}, // no ACL on it
			{alice, "1.2.3.4:5", OpRead, ResourceGroup, "other", allowIfNone},
		} {
			if got := a.Authorize(tc.p, tc.host, tc.op, tc.typ, tc.name); got != tc.want {
				t.Errorf("allowIfNone=%v: %s %s %s %s:%s = %v (%s), want %v", allowIfNone, tc.p, tc.host, tc.op, tc.typ, tc.name,
					got, a.Check(tc.p, tc.host, tc.op, tc.typ, tc.name).Reason, tc.want)
			}
		}
	}
}

func TestAuthorizeAny(t *testing.T) {
	a, _ := OpenAuthorizer("", Policy{})
	alice := User("alice")
	if a.AuthorizeAny(alice, "h", OpWrite, ResourceTopic) {
		t.Fatal("allowed with no acl")
	}
	a.Create([]ACL{allow(alice, OpWrite, ResourceTopic, PatternLiteral, "t")})
	if !a.AuthorizeAny(alice, "h", OpWrite, ResourceTopic) || a.AuthorizeAny(User("bob"), "h", OpWrite, ResourceTopic) {
		t.Fatal("write on some topic")
	}
	a.Create([]ACL{deny(alice, OpAll, ResourceTopic, PatternLiteral, Wildcard)})
	if a.AuthorizeAny(alice, "h", OpWrite, ResourceTopic) {
		t.Fatal("a wildcard deny rules out every topic")
	}
}

func TestStoreDurableAndFilters(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenAuthorizer(dir, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	alice := User("alice")
	in := []ACL{
		allow(alice, OpRead, ResourceTopic, PatternLiteral, "orders"),
		allow(alice, OpRead, ResourceTopic, PatternPrefixed, "ord"),
		allow(alice, OpRead, ResourceGroup, PatternLiteral, "g"),
		{Resource: ResourceTopic, Name: "", Pattern: PatternLiteral, Principal: alice, Host: "*", Operation: OpRead, Permission: PermissionAllow},
	}
	errs, err := a.Create(append(in, in[0])) // a duplicate is stored once
	if err != nil || errs[0] != nil || errs[3] == nil {
		t.Fatalf("create: %v %v", errs, err)
	}
	b, err := OpenAuthorizer(dir, Policy{})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Describe(MatchAll); len(got) != 3 {
		t.Fatalf("reopened: %v", got)
	}
	orders := "orders"
	match := Filter{Resource: ResourceTopic, Name: &orders, Pattern: PatternMatch, Operation: OpAny, Permission: PermissionAny}
	if got := b.Describe(match); len(got) != 2 {
		t.Fatalf("match filter: %v", got)
	}
	lit := match
	lit.Pattern = PatternLiteral
	deleted, errs, err := b.Delete([]Filter{lit})
	if err != nil || errs[0] != nil || len(deleted[0]) != 1 || deleted[0][0] != in[0] {
		t.Fatalf("delete: %v %v %v", deleted, errs, err)
	}
	c, _ := OpenAuthorizer(dir, Policy{})
	if got := c.Describe(MatchAll); len(got) != 2 || c.Authorize(alice, "h", OpRead, ResourceTopic, "x") {
		t.Fatalf("after delete: %v", got)
	}
	if !c.Authorize(alice, "h", OpRead, ResourceTopic, "ordinal") {
		t.Fatal("prefixed acl lost")
	}
	if err := os.WriteFile(filepath.Join(dir, ACLFile), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAuthorizer(dir, Policy{}); err == nil {
		t.Fatal("corrupt file opened")
	}
}

// BenchmarkAuthorize checks one topic Write among 10,000 ACLs: literal
// ones on 5,000 topics, prefixed ones of 8 lengths, for 100 principals.
func BenchmarkAuthorize(b *testing.B) {
	a, _ := OpenAuthorizer("", Policy{})
	var acls []ACL
	for i := range 10_000 {
		p := User(fmt.Sprintf("user-%d", i%100))
		if i%2 == 0 {
			acls = append(acls, allow(p, OpWrite, ResourceTopic, PatternLiteral, fmt.Sprintf("topic-%d", i)))
		} else {
			acls = append(acls, allow(p, OpRead, ResourceTopic, PatternPrefixed, fmt.Sprintf("app%d-%06d", i%8, i)[:4+i%8]))
		}
	}
	if _, err := a.Create(acls); err != nil {
		b.Fatal(err)
	}
	p := User("user-42")
	if !a.Authorize(p, "10.1.2.3:4567", OpWrite, ResourceTopic, "topic-5042") {
		b.Fatal("not allowed")
	}
	b.ReportAllocs()
	for b.Loop() {
		a.Authorize(p, "10.1.2.3:4567", OpWrite, ResourceTopic, "topic-5042")
	}
}
