package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// twinmqEnv runs the twinmq command line args with environ as the
// process environment and returns its stdout and its error.
func twinmqEnv(t *testing.T, environ []string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCommand(environ)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// TestProfilesAndEnvironment: `twinmq profile create|use|list|delete`
// keep profiles in $XDG_CONFIG_HOME/twinmq/profiles.yaml; an admin
// command without --bootstrap-server connects where the current profile
// says, TWINMQ_BOOTSTRAP_SERVER beats the profile, the flag beats both,
// and --profile or TWINMQ_PROFILE pick another profile. A broker command
// does not refuse the admin commands' variables as unknown settings.
func TestProfilesAndEnvironment(t *testing.T) {
	logs := serveForTest(t)
	kafka, nsAddr := listenAddr(t, logs, "Kafka"), listenAddr(t, logs, "name server")
	dir := t.TempDir()
	env := []string{"XDG_CONFIG_HOME=" + dir}
	dead := "127.0.0.1:1" // nothing listens: a command that goes there fails

	if out, err := twinmqEnv(t, env, "profile", "list"); err != nil || strings.TrimSpace(out) != "NAME  BOOTSTRAP SERVER  NAMESRV ADDR  BROKER ADDR" {
		t.Fatalf("list without a file: %v\n%s", err, out)
	}
	if _, err := twinmqEnv(t, env, "profile", "create", "empty"); err == nil {
		t.Fatal("a profile without addresses was created")
	}
	for _, args := range [][]string{
		{"profile", "create", "local", "--bootstrap-server", kafka, "--namesrv-addr", nsAddr},
		{"profile", "create", "away", "--bootstrap-server", dead, "--no-use"},
	} {
		if _, err := twinmqEnv(t, env, args...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	out, err := twinmqEnv(t, env, "profile", "list")
	if err != nil || !hasRow(out, "local*", kafka, nsAddr, "-") || !hasRow(out, "away", dead, "-", "-") {
		t.Fatalf("profile list: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "twinmq", "profiles.yaml"))
	var pf profileFile
	if err != nil || yaml.Unmarshal(b, &pf) != nil || pf.Current != "local" || pf.Profiles["local"].BootstrapServer != kafka {
		t.Fatalf("profiles.yaml: %v\n%s", err, b)
	}

	// The current profile's addresses, for Kafka and RocketMQ commands.
	mustEnv := func(env []string, args ...string) string {
		t.Helper()
		out, err := twinmqEnv(t, env, args...)
		if err != nil {
			t.Fatalf("twinmq %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if out := mustEnv(env, "topic", "create", "prof"); !strings.Contains(out, "created prof") {
		t.Fatalf("create through the profile printed %q", out)
	}
	if out := mustEnv(env, "cluster", "info"); !strings.Contains(out, "broker-a") {
		t.Fatalf("cluster info through the profile:\n%s", out)
	}
	// --profile and TWINMQ_PROFILE pick another one; a missing one fails.
	if _, err := twinmqEnv(t, env, "topic", "list", "--profile", "away"); err == nil {
		t.Fatal("topic list --profile away reached a broker")
	}
	if _, err := twinmqEnv(t, append(env, envProfile+"=away"), "topic", "list"); err == nil {
		t.Fatal("topic list with TWINMQ_PROFILE=away reached a broker")
	}
	if _, err := twinmqEnv(t, env, "topic", "list", "--profile", "nope"); err == nil || !strings.Contains(err.Error(), `profile "nope" does not exist`) {
		t.Fatalf("a missing profile: %v", err)
	}
	// The environment beats the profile, the flag beats both.
	if _, err := twinmqEnv(t, append(env, envBootstrap+"="+dead), "topic", "list"); err == nil {
		t.Fatal("TWINMQ_BOOTSTRAP_SERVER did not beat the profile")
	}
	if out := mustEnv(append(env, envBootstrap+"="+dead), "topic", "list", "--bootstrap-server", kafka); !hasRow(out, "prof", "1") {
		t.Fatalf("the flag did not beat the environment:\n%s", out)
	}
	// use and delete.
	mustEnv(env, "profile", "use", "away")
	if _, err := twinmqEnv(t, env, "topic", "list"); err == nil {
		t.Fatal("topic list after profile use away reached a broker")
	}
	mustEnv(env, "profile", "delete", "away")
	if _, err := twinmqEnv(t, env, "profile", "use", "away"); err == nil {
		t.Fatal("use of a deleted profile worked")
	}
	// No current profile now: the default address, nothing listens there
	// in tests, but TWINMQ_BOOTSTRAP_SERVER alone is enough.
	if out := mustEnv([]string{"XDG_CONFIG_HOME=" + dir, envBootstrap + "=" + kafka}, "topic", "list", "--format", "json"); !strings.Contains(out, `"topic": "prof"`) {
		t.Fatalf("TWINMQ_BOOTSTRAP_SERVER alone:\n%s", out)
	}

	// A broker's settings ignore the admin commands' variables.
	if _, err := loadConfig("", nil, []string{envBootstrap + "=x:1", envProfile + "=p", envBrokerAddr + "=y:2"}); err != nil {
		t.Fatalf("serve with the admin variables set: %v", err)
	}
}

// TestOutputFormats: --format json and yaml print the same data as the
// text tables of topic list, topic describe, group list and describe; a
// bad --format fails; -c sets topic configs; completion is listed.
func TestOutputFormats(t *testing.T) {
	logs := serveForTest(t)
	bs := "--bootstrap-server=" + listenAddr(t, logs, "Kafka")
	mustCmd(t, "topic", "create", "fmt", "--partitions", "2", "-c", "retention.ms=600000", bs)
	var list []struct {
		Topic      string
		Partitions int
	}
	if out := mustCmd(t, "topic", "list", "--format", "json", bs); json.Unmarshal([]byte(out), &list) != nil ||
		len(list) != 1 || list[0].Topic != "fmt" || list[0].Partitions != 2 {
		t.Fatalf("topic list --format json:\n%s", out)
	}
	var desc []struct {
		Topic      string
		Partitions []struct{ Partition, Start, End, Messages int64 }
		Configs    map[string]string
	}
	out := mustCmd(t, "topic", "describe", "fmt", "--format", "yaml", bs)
	if yaml.Unmarshal([]byte(out), &desc) != nil || len(desc) != 1 || len(desc[0].Partitions) != 2 ||
		desc[0].Configs["retention.ms"] != "600000" || !strings.Contains(out, "retention.ms: \"600000\"") {
		t.Fatalf("topic describe --format yaml:\n%s", out)
	}
	if _, err := twinmqCmd(t, "topic", "list", "--format", "xml", bs); err == nil || !strings.Contains(err.Error(), `--format "xml"`) {
		t.Fatalf("--format xml: %v", err)
	}
	if out := mustCmd(t, "group", "list", "--format", "json", bs); strings.TrimSpace(out) != "[]" {
		t.Fatalf("group list --format json with no groups: %q", out)
	}
	if out := mustCmd(t, "--help"); !strings.Contains(out, "completion") || !strings.Contains(out, "profile") {
		t.Fatalf("help does not list completion and profile:\n%s", out)
	}
}
