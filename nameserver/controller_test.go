package nameserver_test

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/nameserver"
	"github.com/twinmq/twinmq/wire/remoting"
)

// TestHostedController: a name server with the embedded controller
// answers CONTROLLER_GET_METADATA_INFO and a broker's registration on its
// own port, next to its own codes.
func TestHostedController(t *testing.T) {
	addr, conn, ctx := hostController(t, "")
	cli, err := controller.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	reg, err := cli.Register(ctx, "C", "b1", "10.0.0.1:10911", 0)
	if err != nil || reg.BrokerID != 1 || reg.MasterID != controller.NoMaster {
		t.Fatalf("register %+v %v", reg, err)
	}
	ri, err := cli.ElectMaster(ctx, "C", "b1", reg.BrokerID, false)
	if err != nil || ri.MasterID != 1 || ri.MasterEpoch != 1 {
		t.Fatalf("elect %+v %v", ri, err)
	}
	// The name server's own codes still work on the same connection.
	resp, err := conn.Invoke(ctx, remoting.NewRequest(remoting.GetBrokerClusterInfo, 0))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("GET_BROKER_CLUSTER_INFO: %+v %v", resp, err)
	}
}

// TestHostedControllerSigned: with a registration secret, the requests
// that change the controller's state must be signed with it: a client
// without the secret or with another one is refused (NO_PERMISSION), one
// with it registers and elects, a captured signed request replayed is
// refused, and the reads stay open.
func TestHostedControllerSigned(t *testing.T) {
	addr, conn, ctx := hostController(t, "s3cret")
	for _, secret := range []string{"", "wrong"} {
		cli, err := controller.NewClient(addr)
		if err != nil {
			t.Fatal(err)
		}
		cli.SetSecret(secret)
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		if _, err := cli.Register(short, "C", "b1", "10.0.0.1:10911", 0); err == nil {
			t.Errorf("secret %q: registered", secret)
		}
		cancel()
		cli.Close()
	}
	cli, err := controller.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	cli.SetSecret("s3cret")
	reg, err := cli.Register(ctx, "C", "b1", "10.0.0.1:10911", 0)
	if err != nil || reg.BrokerID != 1 {
		t.Fatalf("signed register %+v %v", reg, err)
	}
	if ri, err := cli.ElectMaster(ctx, "C", "b1", reg.BrokerID, false); err != nil || ri.MasterID != 1 {
		t.Fatalf("signed elect %+v %v", ri, err)
	}
	hb := remoting.NewRequest(controller.CodeBrokerHeartbeat, 0)
	hb.ExtFields["clusterName"], hb.ExtFields["brokerName"], hb.ExtFields["brokerAddr"] = "C", "b1", "10.0.0.1:10911"
	hb.ExtFields["brokerId"] = "1"
	nameserver.SignControllerRequest("s3cret", hb, time.Now().UnixNano())
	resp, err := conn.Invoke(ctx, hb)
	if err != nil || resp.Code == remoting.NoPermission {
		t.Fatalf("signed heartbeat: %+v %v", resp, err)
	}
	again := remoting.NewRequest(controller.CodeBrokerHeartbeat, 0)
	again.ExtFields = hb.ExtFields
	if resp, err := conn.Invoke(ctx, again); err != nil || resp.Code != remoting.NoPermission {
		t.Fatalf("replayed heartbeat: %+v %v", resp, err)
	}
	if resp, err := conn.Invoke(ctx, remoting.NewRequest(controller.CodeControllerGetMetadataInfo, 0)); err != nil || resp.Code != remoting.Success {
		t.Fatalf("unsigned GET_METADATA_INFO: %+v %v", resp, err)
	}
}

// hostController runs a name server hosting a one-node controller that
// leads, and returns its address and a connection to it.
func hostController(t *testing.T, secret string) (string, *nameserver.Client, context.Context) {
	t.Helper()
	ns := nameserver.New(nameserver.Config{Logger: slog.New(slog.DiscardHandler), RegistrationSecret: secret})
	srv, stop, err := nameserver.Listen(context.Background(), "127.0.0.1:0", ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop(context.Background()) })
	addr := srv.Addr().String()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := "n0-" + ln.Addr().String()
	ctl, err := controller.Open(controller.Config{SelfID: "n0", Peers: peers, DataDir: t.TempDir(), Addr: addr,
		Listener: ln, ScanInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	conn, err := nameserver.Dial(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// Before the controller is hosted its codes are not supported.
	resp, err := conn.Invoke(ctx, remoting.NewRequest(controller.CodeControllerGetMetadataInfo, 0))
	if err != nil || resp.Code != remoting.RequestCodeNotSupported {
		t.Fatalf("before hosting: %+v %v", resp, err)
	}
	ns.HostController(ctl.Route)
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = conn.Invoke(ctx, remoting.NewRequest(controller.CodeControllerGetMetadataInfo, 0))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ExtFields["isLeader"] == "true" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never leads: %+v", resp)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if resp.Code != remoting.Success || resp.ExtFields["controllerLeaderAddress"] != addr ||
		resp.ExtFields["controllerLeaderId"] != "n0" || resp.ExtFields["peers"] != peers {
		t.Fatalf("metadata %+v", resp.ExtFields)
	}
	return addr, conn, ctx
}
