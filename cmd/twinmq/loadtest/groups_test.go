package loadtest

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestRunGroupsAgainstKfake(t *testing.T) {
	addr, stop, err := StartKfake()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := RunGroups(context.Background(), GroupsConfig{
		Brokers: []string{addr}, Protocols: []string{"classic"},
		Groups: 20, CommitDuration: 2 * time.Second, Clients: 4, Timeout: time.Minute,
		CPU: ProcessCPU(os.Getpid()),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rebalances) != 1 || res.Rebalances[0].Elapsed <= 0 || res.Commits == nil ||
		res.Commits.Commits < 20 || res.Commits.Errors != 0 || res.Commits.P50 <= 0 {
		t.Fatalf("result %+v", res)
	}
	t.Log(res.Rebalances[0])
	t.Log(res.Commits)
}
