package main

import (
	"net/http"

	"github.com/zoogate/zoogate/cmd/zoogate/drill"
	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan/emulate"
)

// mountDrillFaults puts zoogate drill's WAN fault endpoint (drill.FaultPath)
// on the node's admin server: with [cluster] drill_faults = true it drives
// the emulator the node's WAN socket runs through (pc, nil without a WAN
// link); otherwise it answers 403.
func mountDrillFaults(cfg *server.Config, f *topology.File, n *topology.Node, pc *emulate.Conn, base emulate.Spec) {
	if cfg.AdminAddr == "" {
		return
	}
	wanAddr := ""
	if pc != nil {
		wanAddr = n.WAN
	}
	if cfg.AdminExtra == nil {
		cfg.AdminExtra = map[string]http.Handler{}
	}
	cfg.AdminExtra[drill.FaultPath] = drill.NewFaultHandler(n.ID, f.Cluster.DrillFaults, wanAddr, pc, base)
}
