package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/zoogate/zoogate/topology"
	"github.com/zoogate/zoogate/topology/gossip"
	"github.com/zoogate/zoogate/wan"
)

// zoogate serve --join FILE: an observer that is not in the deployment's
// topology file joins a site at run time (docs/topology.md, "Observers
// that join at run time"). It enters its site's gossip pool through the
// join file's seeds, proving its id with its certificate; the seed hands
// it the deployment's topology file (memberlist's state exchange on a
// join, only when the deployment has dynamic_observers); the node adds
// itself to that file (topology.File.WithJoiner) and runs from it as any
// observer of the file would, except that its peer links to its upstreams
// go over TLS, which is how the relays and voters tell it from the file's
// nodes (learnerAdmission).

// joinDeployment reads the join file at path, fetches the deployment's file
// from the seeds, and returns the merged file and this node in it. id, when
// not 0, must be the join file's node id.
func joinDeployment(path string, id uint64, stderr io.Writer) (*topology.File, *topology.Node, error) {
	j, err := topology.LoadJoin(path)
	if err != nil {
		return nil, nil, err
	}
	if id != 0 && id != j.Node.ID {
		return nil, nil, fmt.Errorf("--id %d, but %s is node %d", id, path, j.Node.ID)
	}
	self := &topology.File{Cluster: topology.Cluster{Name: j.Cluster.Name, TLSCA: j.Cluster.TLSCA}}
	ident, err := loadIdentity(self, &j.Node)
	if err != nil {
		return nil, nil, err
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "zoogate.join", Level: j.Node.LogLevel, Output: stderr})
	source, err := fetchDeployment(j, ident, log)
	if err != nil {
		return nil, nil, err
	}
	dep, err := topology.Parse(source, fmt.Sprintf("the deployment's file (from the seeds %v)", j.Seeds))
	if err != nil {
		return nil, nil, err
	}
	f, err := dep.WithJoiner(j)
	if err != nil {
		return nil, nil, err
	}
	n, err := f.Node(j.Node.ID)
	if err != nil {
		return nil, nil, err
	}
	log.Info("joined the deployment's file", "cluster", f.Cluster.Name, "site", n.Site, "id", n.ID, "nodes", len(f.Nodes))
	return f, n, nil
}

// fetchDeployment joins the site's pool through the seeds, waits (up to
// [join] wait) for a seed to hand over the deployment's file, and leaves.
func fetchDeployment(j *topology.Join, ident *wan.TLS, log hclog.Logger) ([]byte, error) {
	key, err := os.ReadFile(j.Cluster.GossipKeyFile)
	if err != nil {
		return nil, fmt.Errorf("cluster.gossip_key_file: %w", err)
	}
	gc := gossip.DefaultConfig()
	gc.Cluster, gc.ID, gc.Site, gc.LAN, gc.LANSeeds = j.Cluster.Name, j.Node.ID, j.Node.Site, j.Node.Gossip, j.Seeds
	if gc.Key, err = gossip.ParseKey(key); err != nil {
		return nil, fmt.Errorf("cluster.gossip_key_file %s: %w", j.Cluster.GossipKeyFile, err)
	}
	gc.TLS = gossipIdentity(ident)
	got := make(chan []byte, 1)
	gc.OnJoinState = func(b []byte) {
		select {
		case got <- b:
		default:
		}
	}
	// This short-lived agent's view is never read: it admits whoever the
	// pool holds, and is only there to be handed the file.
	agent, err := gossip.Start(gc, gossip.Meta{Role: topology.RoleObserver.String(), Client: j.Node.Client, State: gossip.StateSyncing}, log.Named("gossip"))
	if err != nil {
		return nil, err
	}
	defer agent.Close()
	log.Info("joining through the seeds", "seeds", j.Seeds, "wait", j.Wait)
	select {
	case b := <-got:
		switch string(b) {
		case "":
			return nil, fmt.Errorf("the seeds %v handed over no topology file", j.Seeds)
		case noDynamicObservers:
			return nil, fmt.Errorf("cluster %q does not take observers that are not in its file (its [cluster] dynamic_observers is false)", j.Cluster.Name)
		}
		return b, nil
	case <-time.After(j.Wait):
		return nil, fmt.Errorf("no seed of %v handed over the deployment's file within %v (join.wait): are they up, in cluster %q with the same gossip key and CA, and does the deployment set dynamic_observers = true?",
			j.Seeds, j.Wait, j.Cluster.Name)
	}
}
