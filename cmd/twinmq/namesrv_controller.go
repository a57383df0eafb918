package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/twinmq/twinmq/controller"
	"github.com/twinmq/twinmq/nameserver"
)

// startNamesrvController is `twinmq namesrv --enable-controller-in-namesrv`:
// a name server on cfg.NamesrvListen that also answers the controller's
// request codes, from a controller whose raft state is in
// <data-dir>/controller and whose raft transport listens on its
// controllerPeers entry. stop ends both, the controller first.
func startNamesrvController(ctx context.Context, cfg Config, logger *slog.Logger) (string, func(context.Context) error, error) {
	warnOpenRegistration(logger, cfg.RegistrationSecret)
	rt, err := cfg.rocketmqTLS()
	if err != nil {
		return "", nil, err
	}
	accs, err := namesrvAccounts(cfg) // authz.go
	if err != nil {
		return "", nil, err
	}
	ns := nameserver.New(nameserver.Config{Logger: logger, RegistrationSecret: cfg.RegistrationSecret, TLS: rt.server, TLSOptional: rt.optional,
		Accounts: accs})
	if err := ns.LoadKVConfig(cfg.namesrvDir()); err != nil {
		return "", nil, err
	}
	srv, stopNS, err := nameserver.Listen(ctx, cfg.NamesrvListen, ns)
	if err != nil {
		return "", nil, portInUse(err, "namesrvListen", cfg.NamesrvListen)
	}
	bound := srv.Addr().(*net.TCPAddr)
	host := bound.IP.String()
	if bound.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	local := net.JoinHostPort(host, strconv.Itoa(bound.Port))
	ctl, err := controller.Open(controller.Config{
		SelfID: cfg.ControllerSelfID, Peers: cfg.ControllerPeers, DataDir: cfg.controllerDir(), Addr: local,
		BrokerHeartbeatTimeout: time.Duration(cfg.BrokerHeartbeatTimeoutMs) * time.Millisecond, Logger: logger,
	})
	if err != nil {
		_ = stopNS(context.Background())
		return "", nil, fmt.Errorf("controller: %w", err)
	}
	ns.HostController(ctl.Route)
	logger.Info("name server listening with an embedded controller", "addr", srv.Addr().String(),
		"controllerSelfId", cfg.ControllerSelfID, "controllerPeers", cfg.ControllerPeers, "dir", cfg.controllerDir())
	stop := func(sctx context.Context) error {
		return errors.Join(ctl.Close(), stopNS(sctx))
	}
	return local, stop, nil
}
