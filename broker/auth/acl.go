package auth

import (
	"fmt"
	"strings"
)

// The ACL model is Kafka's (KIP-11, KIP-290 for prefixed patterns): an ACL
// grants or denies one principal, from one host, one operation on the
// resources one pattern names. The numeric values of the enums below are
// Kafka's wire codes (org.apache.kafka.common.acl / resource), so the
// Kafka adapter converts by a plain cast and the durable file stores the
// same numbers; they never change.

// ResourceType is what an ACL protects.
type ResourceType int8

// Resource types (ResourceType.java). Any only appears in filters.
const (
	ResourceAny             ResourceType = 1
	ResourceTopic           ResourceType = 2
	ResourceGroup           ResourceType = 3
	ResourceCluster         ResourceType = 4
	ResourceTransactionalID ResourceType = 5
)

// PatternType says how an ACL's resource name matches.
type PatternType int8

// Pattern types (PatternType.java, KIP-290). Any and Match only appear in
// filters: Match finds the ACLs that apply to a name (literal, the "*"
// wildcard and prefixes of it).
const (
	PatternAny      PatternType = 1
	PatternMatch    PatternType = 2
	PatternLiteral  PatternType = 3
	PatternPrefixed PatternType = 4
)

// Operation is what an ACL allows or denies.
type Operation int8

// Operations (AclOperation.java). Any only appears in filters; All matches
// every operation.
const (
	OpAny             Operation = 1
	OpAll             Operation = 2
	OpRead            Operation = 3
	OpWrite           Operation = 4
	OpCreate          Operation = 5
	OpDelete          Operation = 6
	OpAlter           Operation = 7
	OpDescribe        Operation = 8
	OpClusterAction   Operation = 9
	OpDescribeConfigs Operation = 10
	OpAlterConfigs    Operation = 11
	OpIdempotentWrite Operation = 12
)

// Permission is allow or deny.
type Permission int8

// Permission types (AclPermissionType.java). Any only appears in filters.
const (
	PermissionAny   Permission = 1
	PermissionDeny  Permission = 2
	PermissionAllow Permission = 3
)

// Wildcard is the resource name, principal ("User:*") or host that
// matches every one, as Kafka writes it.
const Wildcard = "*"

// ClusterName is the one cluster resource's name, as Kafka names it.
const ClusterName = "kafka-cluster"

// ACL is one access control entry bound to a resource pattern.
type ACL struct {
	Resource   ResourceType `json:"resourceType"`
	Name       string       `json:"name"`
	Pattern    PatternType  `json:"patternType"`
	Principal  Principal    `json:"principal"`
	Host       string       `json:"host"`
	Operation  Operation    `json:"operation"`
	Permission Permission   `json:"permission"`
}

// Validate says why an ACL cannot be stored, as Kafka's CreateAcls
// refuses it (INVALID_REQUEST), or nil.
func (a ACL) Validate() error {
	switch {
	case a.Resource < ResourceTopic || a.Resource > ResourceTransactionalID:
		return fmt.Errorf("auth: %w: resource type %d", ErrInvalidACL, a.Resource)
	case a.Pattern != PatternLiteral && a.Pattern != PatternPrefixed:
		return fmt.Errorf("auth: %w: pattern type %d", ErrInvalidACL, a.Pattern)
	case a.Operation < OpAll || a.Operation > OpIdempotentWrite:
		return fmt.Errorf("auth: %w: operation %d", ErrInvalidACL, a.Operation)
	case a.Permission != PermissionAllow && a.Permission != PermissionDeny:
		return fmt.Errorf("auth: %w: permission %d", ErrInvalidACL, a.Permission)
	case a.Name == "":
		return fmt.Errorf("auth: %w: empty resource name", ErrInvalidACL)
	case a.Pattern == PatternPrefixed && a.Name == Wildcard:
		return fmt.Errorf("auth: %w: a prefixed pattern cannot be %q", ErrInvalidACL, Wildcard)
	case a.Resource == ResourceCluster && a.Name != ClusterName:
		return fmt.Errorf("auth: %w: the cluster resource is named %q", ErrInvalidACL, ClusterName)
	case a.Principal.Type() == "" || a.Principal.Name() == "":
		return fmt.Errorf("auth: %w: principal %q is not Type:name", ErrInvalidACL, a.Principal)
	case a.Host == "":
		return fmt.Errorf("auth: %w: empty host (use %q)", ErrInvalidACL, Wildcard)
	}
	return nil
}

// Filter selects ACLs (DescribeAcls, DeleteAcls). Any in an enum field
// matches every value; a nil string matches every value.
type Filter struct {
	Resource   ResourceType
	Name       *string
	Pattern    PatternType
	Principal  *string
	Host       *string
	Operation  Operation
	Permission Permission
}

// MatchAll is the filter every ACL matches.
var MatchAll = Filter{Resource: ResourceAny, Pattern: PatternAny, Operation: OpAny, Permission: PermissionAny}

// Matches says whether a is selected by f, with Kafka's semantics
// (AclBindingFilter.matches): PatternMatch selects the ACLs that would
// apply to f.Name: the same literal name, the literal wildcard, and every
// prefixed pattern that is a prefix of it.
func (f Filter) Matches(a ACL) bool {
	if f.Resource != ResourceAny && f.Resource != a.Resource {
		return false
	}
	if f.Operation != OpAny && f.Operation != a.Operation {
		return false
	}
	if f.Permission != PermissionAny && f.Permission != a.Permission {
		return false
	}
	if f.Principal != nil && Principal(*f.Principal) != a.Principal {
		return false
	}
	if f.Host != nil && *f.Host != a.Host {
		return false
	}
	switch f.Pattern {
	case PatternAny:
		return f.Name == nil || *f.Name == a.Name
	case PatternMatch:
		if f.Name == nil {
			return true
		}
		if a.Pattern == PatternLiteral {
			return a.Name == *f.Name || a.Name == Wildcard
		}
		return strings.HasPrefix(*f.Name, a.Name)
	default:
		return f.Pattern == a.Pattern && (f.Name == nil || *f.Name == a.Name)
	}
}

// Validate says why a filter is malformed (a DeleteAcls or DescribeAcls
// that Kafka answers INVALID_REQUEST), or nil.
func (f Filter) Validate() error {
	switch {
	case f.Resource < ResourceAny || f.Resource > ResourceTransactionalID:
		return fmt.Errorf("auth: %w: resource type %d", ErrInvalidACL, f.Resource)
	case f.Pattern < PatternAny || f.Pattern > PatternPrefixed:
		return fmt.Errorf("auth: %w: pattern type %d", ErrInvalidACL, f.Pattern)
	case f.Operation < OpAny || f.Operation > OpIdempotentWrite:
		return fmt.Errorf("auth: %w: operation %d", ErrInvalidACL, f.Operation)
	case f.Permission < PermissionAny || f.Permission > PermissionAllow:
		return fmt.Errorf("auth: %w: permission %d", ErrInvalidACL, f.Permission)
	}
	return nil
}

var opNames = map[Operation]string{
	OpAny: "Any", OpAll: "All", OpRead: "Read", OpWrite: "Write", OpCreate: "Create", OpDelete: "Delete",
	OpAlter: "Alter", OpDescribe: "Describe", OpClusterAction: "ClusterAction",
	OpDescribeConfigs: "DescribeConfigs", OpAlterConfigs: "AlterConfigs", OpIdempotentWrite: "IdempotentWrite",
}

func (o Operation) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Operation(%d)", int8(o))
}

// ParseOperation reads an operation as kafka-acls writes it (Read,
// IdempotentWrite), case-insensitively.
func ParseOperation(s string) (Operation, error) {
	for o, n := range opNames {
		if strings.EqualFold(n, s) {
			return o, nil
		}
	}
	return 0, fmt.Errorf("auth: %w: unknown operation %q", ErrInvalidACL, s)
}

func (r ResourceType) String() string {
	switch r {
	case ResourceAny:
		return "Any"
	case ResourceTopic:
		return "Topic"
	case ResourceGroup:
		return "Group"
	case ResourceCluster:
		return "Cluster"
	case ResourceTransactionalID:
		return "TransactionalId"
	}
	return fmt.Sprintf("ResourceType(%d)", int8(r))
}

func (p PatternType) String() string {
	switch p {
	case PatternAny:
		return "Any"
	case PatternMatch:
		return "Match"
	case PatternLiteral:
		return "Literal"
	case PatternPrefixed:
		return "Prefixed"
	}
	return fmt.Sprintf("PatternType(%d)", int8(p))
}

func (p Permission) String() string {
	switch p {
	case PermissionAny:
		return "Any"
	case PermissionDeny:
		return "Deny"
	case PermissionAllow:
		return "Allow"
	}
	return fmt.Sprintf("Permission(%d)", int8(p))
}

// ParsePatternType reads literal, prefixed, match or any.
func ParsePatternType(s string) (PatternType, error) {
	for _, p := range []PatternType{PatternAny, PatternMatch, PatternLiteral, PatternPrefixed} {
		if strings.EqualFold(p.String(), s) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("auth: %w: unknown pattern type %q", ErrInvalidACL, s)
}

// String is one line, as kafka-acls prints an ACL.
func (a ACL) String() string {
	return fmt.Sprintf("(principal=%s, host=%s, operation=%s, permissionType=%s) on %s:%s:%s",
		a.Principal, a.Host, a.Operation, a.Permission, a.Resource, a.Pattern, a.Name)
}
