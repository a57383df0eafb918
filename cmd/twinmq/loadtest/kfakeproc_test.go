package loadtest

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestMain lets the test binary be the child of StartKfakeProcess: with
// LOADTEST_KFAKE_CHILD set it serves kfake instead of running tests.
func TestMain(m *testing.M) {
	if os.Getenv("LOADTEST_KFAKE_CHILD") == "1" {
		if err := ServeKfake(context.Background(), 0, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv("LOADTEST_ECHO_CHILD") == "1" {
		if err := ServeEcho(context.Background(), 0, os.Stdout); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKfakeProcess: a kfake broker in a child process takes a produce and
// consume run with nothing lost, and stop ends the child.
func TestKfakeProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADTEST_KFAKE_CHILD", "1")
	addr, stop, err := StartKfakeProcess(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := RunKafka(context.Background(), "kfake-process", KafkaConfig{
		Brokers: []string{addr}, Partitions: 2, Records: 1000, Size: 128, Producers: 1,
		Acks: "all", Idempotent: true, Compression: "none", Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lost != 0 || res.Duplicates != 0 || res.Records != 1000 {
		t.Fatalf("result %v", res)
	}
}

// TestKfakeProcessBadChild: a child that exits without an address is an
// error, not a hang.
func TestKfakeProcessBadChild(t *testing.T) {
	if _, _, err := StartKfakeProcess("/bin/true"); err == nil {
		t.Fatal("no error from a child that printed nothing")
	}
}

// TestEchoFloor: the echo server in a child process answers every frame
// (EchoFloor reads each 68-byte reply before sending the next), reports
// the child's pid, and stop ends it.
func TestEchoFloor(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOADTEST_ECHO_CHILD", "1")
	addr, pid, stop, err := StartServerProcess(exe)
	if err != nil {
		t.Fatal(err)
	}
	cpu := ProcessCPU(pid)
	if _, err := cpu(); err != nil {
		t.Fatalf("child pid %d: %v", pid, err)
	}
	floor, err := EchoFloor(addr, 2000, 1280, cpu)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if floor < 0 {
		t.Fatalf("negative CPU per round trip %v", floor)
	}
	if _, err := cpu(); err == nil {
		t.Fatal("the child still runs after stop")
	}
	if _, err := EchoFloor(addr, 10, 10, cpu); err == nil {
		t.Fatal("EchoFloor against a stopped server succeeded")
	}
}
