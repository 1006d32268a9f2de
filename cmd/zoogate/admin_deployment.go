package main

import (
	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/topology"
)

// deployment describes a topology file's sites and nodes for the admin
// server's topology command (/commands/topology).
func deployment(f *topology.File) *server.Deployment {
	d := &server.Deployment{Name: f.Cluster.Name}
	primary := ""
	for _, s := range f.Sites {
		d.Sites = append(d.Sites, server.DeploymentSite{Name: s.Name, Primary: s.Primary})
		if s.Primary {
			primary = s.Name
		}
	}
	for _, n := range f.Nodes {
		site := n.Site
		if site == "" {
			site = primary
		}
		d.Nodes = append(d.Nodes, server.DeploymentNode{ID: n.ID, Site: site, Role: n.Role.String(), Client: n.Client, Admin: n.Admin})
	}
	return d
}
