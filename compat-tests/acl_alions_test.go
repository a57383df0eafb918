package compattests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twinmq/twinmq/broker/auth"
)

// TestACLAliOns runs ali-ons (the Node.js remoting client) with an
// AccessKey against a broker with aclEnable: it signs every request
// (OnsChannel included), sends and consumes where the account may, and
// is refused (NO_PERMISSION: ali-ons gives up on the send) on a denied
// topic and with a wrong secret.
func TestACLAliOns(t *testing.T) {
	nodeBin, dir := nodeClients(t)
	c := startACLCluster(t, auth.Policy{}, aclAccounts(t))
	for _, topic := range []string{"AclOrders", "AclSecret"} {
		c.createTopic(t, topic)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "alions_acl.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NAMESRV="+c.nsAddr, "TOPIC=AclOrders", "DENIED=AclSecret", "GROUP=acl_cg",
		"AK=alice-ak", "SK=alice-secret", "COUNT=5", "TIMEOUT_MS=60000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node alions_acl.js: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
	}
	sent, recv := map[int]bool{}, map[int]bool{}
	denied := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var e struct {
			Sent, Recv      *int
			Denied, Allowed string
			Label, Error    string
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		switch {
		case e.Sent != nil:
			sent[*e.Sent] = true
		case e.Recv != nil:
			recv[*e.Recv] = true
		case e.Denied != "":
			denied[e.Label] = e.Error
		case e.Allowed != "":
			t.Errorf("%s: %s was allowed", e.Label, e.Allowed)
		}
	}
	if len(sent) != 5 || len(recv) != 5 {
		t.Errorf("sent %d, received %d of 5:\n%s", len(sent), len(recv), out)
	}
	for _, label := range []string{"denied-topic", "wrong-secret"} {
		if !strings.Contains(denied[label], "still failed") {
			t.Errorf("%s: %q, want the send refused", label, denied[label])
		}
	}
}
