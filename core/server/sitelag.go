package server

import (
	"slices"
	"time"
)

// writeSiteLag adds, on a leader, one pair of mntr lines per remote site:
// how many committed transactions the site's furthest-behind learner (its
// relay) has yet to receive, and how long ago the site was last heard from.
// A site none of whose learners is connected reports -1 for both.
func (s *Server) writeSiteLag(kv func(string, any), d *driver) {
	siteOf := s.cfg.Cluster.SiteOf
	if len(siteOf) == 0 {
		return
	}
	type lagHeard struct{ lag, heard int64 }
	sites := map[string]*lagHeard{}
	for _, site := range siteOf {
		if site != s.cfg.Cluster.Site {
			sites[site] = &lagHeard{lag: -1, heard: -1}
		}
	}
	if p := d.learners.Load(); p != nil {
		for _, l := range *p {
			v := sites[siteOf[l.ID]]
			if v == nil {
				continue
			}
			heard := (time.Duration(l.HeardTicks) * d.zabTick).Milliseconds()
			v.lag = max(v.lag, l.Lag)
			if v.heard < 0 || heard < v.heard {
				v.heard = heard
			}
		}
	}
	names := make([]string, 0, len(sites))
	for name := range sites {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		kv("site_"+name+"_lag_txns", sites[name].lag)
		kv("site_"+name+"_last_heard_ms", sites[name].heard)
	}
}
