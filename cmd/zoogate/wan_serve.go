package main

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/bridge"
	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/wan"
	"github.com/zoogate/zoogate/wan/emulate"
)

// attachWAN gives a voter of a file with relays, or a relay, a transport
// that also reaches the other sites: the LAN transport the server opens,
// bridged with a QUIC transport on the node's wan address (bridge/, wan/).
// Nodes without a wan address are left as they are. emulateSpec, when not
// empty, runs this node's WAN packets through the in-process WAN emulator
// (wan/emulate), for demos and drills on one machine. With [cluster]
// drill_faults = true the WAN socket always runs through the emulator (a
// perfect link unless emulateSpec says otherwise), so that zoogate drill
// can cut or slow it at run time; the emulator is returned then (nil
// otherwise), with the spec it started with.
func attachWAN(cfg *server.Config, f *topology.File, n *topology.Node, log hclog.Logger, emulateSpec string) (*emulate.Conn, emulate.Spec, error) {
	var spec emulate.Spec
	if cfg.Cluster == nil {
		if emulateSpec != "" {
			return nil, spec, fmt.Errorf("--wan-emulate: this node has no WAN link")
		}
		return nil, spec, nil
	}
	if n.WAN == "" {
		if emulateSpec != "" {
			return nil, spec, fmt.Errorf("--wan-emulate: node %d has no wan address", n.ID)
		}
		return nil, spec, nil
	}
	tlsConf, err := wan.LoadTLS(f.Cluster.TLSCA, n.TLSCert, n.TLSKey)
	if err != nil {
		return nil, spec, fmt.Errorf("node %d: WAN TLS (tls_ca, tls_cert, tls_key): %w", n.ID, err)
	}
	wc := wan.DefaultConfig()
	wc.ID, wc.Cluster, wc.TLS, wc.ListenAddr = n.ID, f.Cluster.Name, tlsConf, n.WAN
	// A link that heard nothing for the WAN sync limit is dead; keepalives
	// well inside it.
	idle := time.Duration(2*f.Cluster.SyncLimit) * f.Cluster.Tick
	wc.IdleTimeout = max(idle, 5*time.Second)
	wc.KeepAlive = min(f.Cluster.Tick, wc.IdleTimeout/4)
	if wc.SpoolDir, err = filepath.Abs(filepath.Join(cfg.DataDir, "spool")); err != nil {
		return nil, spec, err
	}
	bc := bridge.Config{WANPeers: map[uint64]bool{}}
	remote := map[uint64]bool{}
	primary := f.PrimarySite()
	for _, o := range f.Nodes {
		if primary != nil && o.Site != primary.Name {
			remote[o.ID] = true
		}
	}
	switch n.Role {
	case topology.RoleRelay, topology.RoleObserver:
		// A relay dials every voter (election notifications, then its
		// leader's stream) and accepts nobody over the WAN; so does an
		// observer of another site with a wan address of its own, which
		// follows the primary directly when no relay of its site serves it.
		wc.Dial = map[uint64]string{}
		for _, v := range f.Voters() {
			addr := v.WANAdvertise
			if addr == "" {
				addr = v.WAN
			}
			wc.Dial[v.ID] = addr
			bc.WANPeers[v.ID] = true
		}
	case topology.RoleVoter:
		// Voters accept the other sites' relays, and their observers that
		// have a WAN link.
		allowed := map[uint64]bool{}
		for _, o := range f.Nodes {
			if remote[o.ID] && o.WAN != "" && o.Role != topology.RoleVoter {
				allowed[o.ID] = true
			}
		}
		wc.AllowPeer = func(id uint64) bool { return allowed[id] }
		bc.IsWANPeer = func(id uint64) bool { return remote[id] }
	}
	var pc *emulate.Conn
	if emulateSpec != "" || f.Cluster.DrillFaults {
		if emulateSpec != "" {
			if spec, err = emulate.ParseSpec(emulateSpec); err != nil {
				return nil, spec, fmt.Errorf("--wan-emulate: %w", err)
			}
		}
		if pc, err = emulate.Listen(n.WAN, spec, rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), n.ID))); err != nil {
			return nil, spec, fmt.Errorf("wan %s (emulated): %w", n.WAN, err)
		}
		wc.PacketConn = pc
		if emulateSpec != "" {
			log.Warn("EMULATED WAN: this node's WAN packets are delayed and dropped on purpose (a test setting)", "spec", spec.String())
		}
		if f.Cluster.DrillFaults {
			log.Warn("drill faults on: zoogate drill may cut or slow this node's WAN through its admin address (drill_faults = true)")
		}
	}
	wlog := log.Named("wan")
	cfg.Cluster.WrapTransport = func(lan server.PeerTransport) (server.PeerTransport, error) {
		w, err := wan.New(wc, wlog)
		if err != nil {
			return nil, err
		}
		bt, err := bridge.New(bc, lan, w, log.Named("bridge"))
		if err != nil {
			w.Close()
			return nil, err
		}
		return bt, nil
	}
	return pc, spec, nil
}
