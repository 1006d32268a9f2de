package topology

import (
	"fmt"
	"strconv"
	"strings"
)

// Node returns the node with the given id. The pointer is into f.Nodes.
func (f *File) Node(id uint64) (*Node, error) {
	for i := range f.Nodes {
		if f.Nodes[i].ID == id {
			return &f.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("%w: id %d is not in %s (ids: %s)", ErrNodeNotFound, id, f.name(), f.idList())
}

// SelectNode picks the node this server runs as, given the --id flag (0 when
// the flag was not given): with an id, that node; without one, the file's
// only node, or ErrIDRequired when the file has several.
func (f *File) SelectNode(id uint64) (*Node, error) {
	if id != 0 {
		return f.Node(id)
	}
	switch len(f.Nodes) {
	case 1:
		return &f.Nodes[0], nil
	case 0:
		return nil, fmt.Errorf("%w: %s defines no node", ErrNodeNotFound, f.name())
	}
	return nil, fmt.Errorf("%w: %s defines %d nodes (ids: %s); say which one this server is",
		ErrIDRequired, f.name(), len(f.Nodes), f.idList())
}

// Voters returns the voting nodes in file order.
func (f *File) Voters() []*Node { return f.byRole(RoleVoter) }

// Observers returns the observers in file order.
func (f *File) Observers() []*Node { return f.byRole(RoleObserver) }

// Relays returns the relays in file order.
func (f *File) Relays() []*Node { return f.byRole(RoleRelay) }

func (f *File) byRole(r Role) []*Node {
	var out []*Node
	for i := range f.Nodes {
		if f.Nodes[i].Role == r {
			out = append(out, &f.Nodes[i])
		}
	}
	return out
}

// Quorum returns how many voters make a majority (0 without voters).
func (f *File) Quorum() int {
	v := len(f.Voters())
	if v == 0 {
		return 0
	}
	return v/2 + 1
}

// Site returns the site with the given name.
func (f *File) Site(name string) (*Site, bool) {
	for i := range f.Sites {
		if f.Sites[i].Name == name {
			return &f.Sites[i], true
		}
	}
	return nil, false
}

// PrimarySite returns the primary site (nil only for an invalid File).
func (f *File) PrimarySite() *Site {
	for i := range f.Sites {
		if f.Sites[i].Primary {
			return &f.Sites[i]
		}
	}
	return nil
}

// NodesIn returns the nodes of a site in file order.
func (f *File) NodesIn(site string) []*Node {
	var out []*Node
	for i := range f.Nodes {
		if f.Nodes[i].Site == site {
			out = append(out, &f.Nodes[i])
		}
	}
	return out
}

func (f *File) name() string {
	if f.Path != "" {
		return f.Path
	}
	return "the topology"
}

func (f *File) idList() string {
	ids := make([]string, len(f.Nodes))
	for i, n := range f.Nodes {
		ids[i] = strconv.FormatUint(n.ID, 10)
	}
	return strings.Join(ids, ", ")
}
