package kafkaapi

import "testing"

// TestEveryKeyHasAnAuthorizationRule: a served key with no check would be
// closed under an authorizer (authorize); this catches a key added to the
// tables without one.
func TestEveryKeyHasAnAuthorizationRule(t *testing.T) {
	for _, table := range []map[int16]api{apiTable(), groupAPIs(), txnAPIs(), shareAPIs()} {
		for k := range table {
			if _, ok := authzTable[k]; !ok && !authzFree[k] {
				t.Errorf("key %d is served but has no authorization rule", k)
			}
		}
	}
}
