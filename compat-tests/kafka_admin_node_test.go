package compattests

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestKafkaAdminPagesKafkajs drives the admin keys through kafkajs's admin
// client (node/kadmin.js): ACLs SECURITY_DISABLED, no reassignments, and
// the broker's configs and loggers with their sources.
func TestKafkaAdminPagesKafkajs(t *testing.T) {
	nodeBin, dir := nodeClients(t)
	b := startTxnBroker(t, t.TempDir(), nil)
	createTopic(t, b.addr, "kafkajs-admin", 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, filepath.Join(dir, "kadmin.js"))
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "BROKERS="+b.addr, "TOPIC=kafkajs-admin")
	stdout, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("kadmin.js: %v\n%s", err, stderr)
	}
	type entry struct {
		Value     string `json:"value"`
		ReadOnly  bool   `json:"readOnly"`
		IsDefault bool   `json:"isDefault"`
		Source    int    `json:"source"`
	}
	type call struct {
		OK    json.RawMessage `json:"ok"`
		Error string          `json:"error"`
	}
	var out struct {
		DescribeAcls, CreateAcls, ListPartitionReassignments call
		Configs                                              []struct {
			Type      int              `json:"type"`
			ErrorCode int              `json:"errorCode"`
			Entries   map[string]entry `json:"entries"`
		}
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("kadmin.js output %q: %v", stdout, err)
	}
	if out.DescribeAcls.Error != "SECURITY_DISABLED" {
		t.Errorf("describeAcls: %+v, want SECURITY_DISABLED", out.DescribeAcls)
	}
	if out.CreateAcls.Error != "SECURITY_DISABLED" {
		t.Errorf("createAcls: %+v, want SECURITY_DISABLED", out.CreateAcls)
	}
	var reassign struct {
		Topics []json.RawMessage `json:"topics"`
	}
	if out.ListPartitionReassignments.Error != "" || json.Unmarshal(out.ListPartitionReassignments.OK, &reassign) != nil ||
		len(reassign.Topics) != 0 {
		t.Errorf("listPartitionReassignments: %+v, want none", out.ListPartitionReassignments)
	}
	if len(out.Configs) != 2 {
		t.Fatalf("describeConfigs: %d resources, want broker and loggers", len(out.Configs))
	}
	const defaultConfig, staticBroker = 5, 4 // KIP-226 sources
	broker := out.Configs[0].Entries
	if e := broker["delete.topic.enable"]; e.Value != "true" || e.Source != defaultConfig || !e.ReadOnly {
		t.Errorf("delete.topic.enable: %+v, want true, DEFAULT_CONFIG, read-only", e)
	}
	if e := broker["log.dirs"]; e.Value != b.dir || e.Source != staticBroker {
		t.Errorf("log.dirs: %+v, want %s, STATIC_BROKER_CONFIG", e, b.dir)
	}
	if l := out.Configs[1]; l.ErrorCode != 0 || l.Entries["root"].Value != "WARN" {
		t.Errorf("broker loggers: %+v, want root at WARN (the tests' level)", l)
	}
}
