package auth

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
)

// RocketMQ's AccessKey signatures (the acl plugin's AclUtils and the
// clients' RPC hooks): a request carries its account in the ext fields
//
//	AccessKey      the account's access key
//	Signature      base64(HMAC-SHA1(secretKey, content))
//	SecurityToken  an STS token (optional; signed by Java clients, not by
//	               rocketmq-client-go, which sends it unsigned)
//	OnsChannel     ali-ons: "ALIYUN" (an ordinary signed field)
//
// and content is the values of every ext field except Signature, in the
// byte order of their names, concatenated with no separator, followed by
// the body. The names are not part of it, only the order.
const (
	FieldAccessKey     = "AccessKey"
	FieldSignature     = "Signature"
	FieldSecurityToken = "SecurityToken"
	FieldOnsChannel    = "OnsChannel"
)

// SignatureContent appends to dst the bytes a RocketMQ client signs for a
// request with these ext fields and body; skip, if not empty, is a field
// left out besides Signature.
func SignatureContent(dst []byte, fields map[string]string, body []byte, skip string) []byte {
	var arr [32]string
	keys := arr[:0]
	for k := range fields {
		if k != FieldSignature && (skip == "" || k != skip) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = append(dst, fields[k]...)
	}
	return append(dst, body...)
}

// Sign is a request's Signature under secretKey.
func Sign(fields map[string]string, body []byte, secretKey string) string {
	return signContent(SignatureContent(nil, fields, body, ""), secretKey)
}

func signContent(content []byte, secretKey string) string {
	m := hmac.New(sha1.New, []byte(secretKey))
	m.Write(content)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifySignature says whether fields carry a valid Signature of fields
// and body under secretKey. A request with a SecurityToken is also
// accepted signed without it (rocketmq-client-go sends it unsigned).
func VerifySignature(fields map[string]string, body []byte, secretKey string) bool {
	got, ok := fields[FieldSignature]
	if !ok {
		return false
	}
	if hmac.Equal([]byte(signContent(SignatureContent(nil, fields, body, ""), secretKey)), []byte(got)) {
		return true
	}
	if _, tok := fields[FieldSecurityToken]; tok {
		return hmac.Equal([]byte(signContent(SignatureContent(nil, fields, body, FieldSecurityToken), secretKey)), []byte(got))
	}
	return false
}
