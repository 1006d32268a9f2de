package server

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

// Deployment describes the deployment a server belongs to, for the admin
// server's topology command: cmd/zoogate fills it from the topology file
// (core never imports topology). Without one, the server describes what
// its Cluster config tells (ids, voters, sites).
type Deployment struct {
	Name  string // the cluster's name
	Sites []DeploymentSite
	Nodes []DeploymentNode
}

// DeploymentSite is one site of a Deployment.
type DeploymentSite struct {
	Name    string
	Primary bool
}

// DeploymentNode is one node of a Deployment.
type DeploymentNode struct {
	ID     uint64
	Site   string
	Role   string // voter, observer or relay
	Client string // its client address
	Admin  string // its admin address; "" = none
}

// deployment returns the configured Deployment, or one made from the
// server's own config.
func (s *Server) deployment() *Deployment {
	if s.cfg.Deployment != nil {
		return s.cfg.Deployment
	}
	self := DeploymentNode{ID: s.cfg.ServerID, Role: s.role(), Client: s.cfg.ClientAddr, Admin: s.cfg.AdminAddr}
	cc := s.cfg.Cluster
	if cc == nil {
		return &Deployment{Name: "standalone", Sites: []DeploymentSite{{Name: "primary", Primary: true}},
			Nodes: []DeploymentNode{{ID: self.ID, Site: "primary", Role: self.Role, Client: self.Client, Admin: self.Admin}}}
	}
	d := &Deployment{Name: cc.Name}
	self.Site = cc.Site
	ids := map[uint64]bool{s.cfg.ServerID: true}
	for _, id := range cc.Voters {
		ids[id] = true
	}
	for id := range cc.Peers {
		ids[id] = true
	}
	for id := range cc.SiteOf {
		ids[id] = true
	}
	sites := map[string]bool{}
	for id := range ids {
		n := DeploymentNode{ID: id, Site: cc.SiteOf[id], Role: "observer"}
		if id == s.cfg.ServerID {
			n = self
		} else if slices.Contains(cc.Voters, id) {
			n.Role = "voter"
		}
		d.Nodes = append(d.Nodes, n)
		if !sites[n.Site] {
			sites[n.Site] = true
			// The voters' site is the primary one.
			d.Sites = append(d.Sites, DeploymentSite{Name: n.Site})
		}
	}
	slices.SortFunc(d.Nodes, func(a, b DeploymentNode) int { return cmp.Compare(a.ID, b.ID) })
	for _, n := range d.Nodes {
		if n.Role == "voter" {
			for i := range d.Sites {
				d.Sites[i].Primary = d.Sites[i].Primary || d.Sites[i].Name == n.Site
			}
		}
	}
	slices.SortFunc(d.Sites, func(a, b DeploymentSite) int { return strings.Compare(a.Name, b.Name) })
	return d
}

// adminTopology is zoogate's own command: the deployment's sites and nodes
// with their roles, which node this is and in which state, and, on a
// leader, each remote site's lag as mntr shows it (sitelag.go).
func (s *Server) adminTopology(_ *http.Request, resp map[string]any) error {
	dep := s.deployment()
	lag := map[string]map[string]any{}
	if d := s.driver; d != nil && s.isLeader() && s.cfg.Cluster.SiteOf != nil {
		s.writeSiteLag(func(k string, v any) {
			name, ok := strings.CutPrefix(k, "site_")
			if !ok {
				return
			}
			if site, ok := strings.CutSuffix(name, "_lag_txns"); ok {
				siteLag(lag, site)["lag_txns"] = v
			} else if site, ok := strings.CutSuffix(name, "_last_heard_ms"); ok {
				siteLag(lag, site)["last_heard_ms"] = v
			}
		}, d)
	}
	sites := make([]map[string]any, 0, len(dep.Sites))
	for _, site := range dep.Sites {
		m := map[string]any{"name": site.Name, "primary": site.Primary}
		for k, v := range lag[site.Name] {
			m[k] = v
		}
		sites = append(sites, m)
	}
	nodes := make([]map[string]any, 0, len(dep.Nodes))
	for _, n := range dep.Nodes {
		m := map[string]any{"id": n.ID, "site": n.Site, "role": n.Role, "client": n.Client, "admin": n.Admin}
		if n.ID == s.cfg.ServerID {
			m["self"] = true
			m["state"] = s.mode()
		}
		nodes = append(nodes, m)
	}
	resp["cluster"] = dep.Name
	resp["server_id"] = s.cfg.ServerID
	resp["server_state"] = s.mode()
	resp["sites"] = sites
	resp["nodes"] = nodes
	if d := s.driver; d != nil {
		if st := d.exec.Status(); st != nil && st.Leader != 0 {
			resp["leader_id"] = st.Leader
		}
	}
	return nil
}

func siteLag(m map[string]map[string]any, site string) map[string]any {
	if m[site] == nil {
		m[site] = map[string]any{}
	}
	return m[site]
}
