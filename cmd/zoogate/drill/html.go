package drill

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Geometry of a site's timeline (SVG user units).
const (
	svgW      = 960.0
	svgH      = 150.0
	padL      = 70.0
	padR      = 60.0
	padTop    = 14.0
	writesH   = 70.0 // writes: ok up, failing down from the midline
	axisY     = padTop + writesH
	failH     = 30.0
	labelsY   = axisY + failH + 16
	plotRight = svgW - padR
)

const pageStyle = `body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2430;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 4px}
.pass{color:#137333}.fail{color:#b3261e}.meta{color:#555;margin:0 0 8px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #e3e6ea;text-align:right}
th{font-weight:600;color:#444}td:first-child,th:first-child{text-align:left}
.site{margin:4px 0 0;font-weight:600}svg{display:block;max-width:100%;height:auto}
.legend span{display:inline-block;margin-right:14px;font-size:12px;color:#444}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
ul{margin:4px 0 8px;padding-left:20px;color:#333}`

// writeHTML writes the report as one self-contained page: per scenario a
// table of what each site saw and an SVG timeline per site (writes
// acknowledged and failing, staleness), the fault shaded.
func writeHTML(rep *Report, w io.Writer) error {
	var b strings.Builder
	e := html.EscapeString
	verdict, cls := "passed", "pass"
	if !rep.Passed {
		verdict, cls = "FAILED", "fail"
	}
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zoogate drill: %s</title>\n<style>%s</style></head><body>\n", e(rep.Config), pageStyle)
	fmt.Fprintf(&b, "<h1>zoogate drill of %s: <span class=\"%s\">%s</span></h1>\n", e(rep.Config), cls, verdict)
	fmt.Fprintf(&b, "<p class=\"meta\">%d scenarios in %s, started %s, seed %d; nodes: %s</p>\n", len(rep.Scenarios), seconds(rep.DurationMs),
		rep.Started.Format("2006-01-02 15:04:05 MST"), rep.Seed, e(rep.Control))
	b.WriteString(`<div class="legend"><span><i class="sw" style="background:#2e7d32"></i>writes acknowledged</span><span><i class="sw" style="background:#c62828"></i>writes failing</span><span><i class="sw" style="background:#1565c0"></i>staleness of reads (right scale)</span><span><i class="sw" style="background:#f9a825;opacity:.35"></i>fault</span><span><i class="sw" style="background:#6a1b9a"></i>recovered</span></div>` + "\n")
	for _, s := range rep.Scenarios {
		writeScenarioHTML(&b, &s)
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeScenarioHTML(b *strings.Builder, s *ScenarioResult) {
	e := html.EscapeString
	res, cls := "pass", "pass"
	if !s.Passed {
		res, cls = "FAIL", "fail"
	}
	name := s.Name
	if s.Site != "" {
		name += " " + s.Site
	}
	fmt.Fprintf(b, "<h2><span class=\"%s\">%s</span> %s</h2>\n<p class=\"meta\">%s</p>\n", cls, res, e(name), e(s.Fault))
	if s.Error != "" {
		fmt.Fprintf(b, "<p class=\"fail\">%s</p>\n", e(s.Error))
		return
	}
	rec := "did not recover"
	if s.RecoveredMs > 0 {
		rec = "recovered " + seconds(s.RecoveredMs-s.HealMs) + " after the heal"
	}
	fmt.Fprintf(b, "<p class=\"meta\">fault at %s for %s, %s; %d writes acknowledged, <b>%d lost</b>; linearizable: <b>%s</b> (%s, %d setData); trees %s</p>\n",
		seconds(s.FaultMs), seconds(s.HealMs-s.FaultMs), e(rec), s.AckedWrites, s.LostAckedWrites, yesNo(s.Linearizable), e(s.LinCheck), s.LinOps, e(s.Trees))
	b.WriteString("<table><tr><th>site</th><th>writes unavailable</th><th>reads unavailable</th><th>read-only reads unavailable</th><th>connection losses (to surviving servers)</th><th>sessions expired</th><th>max staleness</th><th>read-only max staleness</th><th>max write latency</th><th>writes ok / failed</th><th>reads ok / failed</th></tr>\n")
	for _, r := range s.Sites {
		fmt.Fprintf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%d (%d)</td><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%d / %d</td><td>%d / %d</td></tr>\n",
			e(r.Site), seconds(r.WriteUnavailableMs), seconds(r.ReadUnavailableMs), seconds(r.ReadOnlyUnavailableMs), r.ConnectionLosses, r.ConnectionLossesSurviving, r.SessionExpirations,
			seconds(r.MaxStalenessMs), seconds(r.ReadOnlyMaxStalenessMs), seconds(r.MaxWriteLatencyMs),
			r.Counts.Writes-r.Counts.WritesFailed, r.Counts.WritesFailed, r.Counts.Reads-r.Counts.ReadsFailed, r.Counts.ReadsFailed)
	}
	b.WriteString("</table>\n")
	for i := range s.Sites {
		fmt.Fprintf(b, "<p class=\"site\">site %s</p>\n", e(s.Sites[i].Site))
		writeTimelineSVG(b, s, &s.Sites[i])
	}
	if len(s.Actions)+len(s.Lost)+len(s.Problems) > 0 {
		b.WriteString("<ul>")
		for _, a := range s.Actions {
			fmt.Fprintf(b, "<li>%s: %s</li>", seconds(a.AtMs), e(a.What))
		}
		for _, l := range s.Lost {
			fmt.Fprintf(b, "<li class=\"fail\">lost: %s</li>", e(l))
		}
		for _, p := range s.Problems {
			fmt.Fprintf(b, "<li class=\"fail\">problem: %s</li>", e(p))
		}
		b.WriteString("</ul>\n")
	}
}

// writeTimelineSVG draws one site's timeline.
func writeTimelineSVG(b *strings.Builder, s *ScenarioResult, r *SiteResult) {
	end := s.EndMs
	if end <= 0 || len(r.Timeline) == 0 {
		return
	}
	x := func(msv float64) float64 { return padL + (plotRight-padL)*math.Min(math.Max(msv/end, 0), 1) }
	maxW := 1
	maxStale := 0.0
	for _, bin := range r.Timeline {
		maxW = max(maxW, bin.WritesOK, bin.WritesFailed)
		maxStale = max(maxStale, bin.MaxStaleMs)
	}
	staleTop := niceCeil(max(maxStale, 10))
	fmt.Fprintf(b, `<svg viewBox="0 0 %.0f %.0f" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="timeline of site %s">`, svgW, svgH, html.EscapeString(r.Site))
	// The fault, shaded; the recovery, a line.
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#f9a825" fill-opacity=".22"/>`, x(s.FaultMs), padTop, math.Max(x(s.HealMs)-x(s.FaultMs), 1.5), writesH+failH)
	if s.RecoveredMs > 0 {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#6a1b9a" stroke-width="1.5" stroke-dasharray="4 3"/>`, x(s.RecoveredMs), x(s.RecoveredMs), padTop, axisY+failH)
	}
	bw := (plotRight - padL) / float64(len(r.Timeline))
	for i, bin := range r.Timeline {
		x0 := padL + float64(i)*bw
		if bin.WritesOK > 0 {
			h := writesH * float64(bin.WritesOK) / float64(maxW)
			fmt.Fprintf(b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#2e7d32"/>`, x0, axisY-h, math.Max(bw-0.3, 0.5), h)
		}
		if bin.WritesFailed > 0 {
			h := math.Max(failH*float64(bin.WritesFailed)/float64(maxW), 3)
			fmt.Fprintf(b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="#c62828"/>`, x0, axisY, math.Max(bw-0.3, 0.5), math.Min(h, failH))
		}
	}
	// Staleness: the maximum per bin, on the right scale.
	var pts []string
	for i, bin := range r.Timeline {
		y := axisY - writesH*bin.MaxStaleMs/staleTop
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", padL+(float64(i)+0.5)*bw, y))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="#1565c0" stroke-width="1.3"/>`, strings.Join(pts, " "))
	// Axes and labels.
	fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#444"/>`, padL, plotRight, axisY, axisY)
	fmt.Fprintf(b, `<g font-size="11" fill="#444" font-family="sans-serif">`)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="end">%d writes</text>`, padL-6, padTop+9, maxW)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="end">ok</text>`, padL-6, axisY-4)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="end">failing</text>`, padL-6, axisY+14)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#1565c0">%s</text>`, plotRight+4, padTop+9, seconds(staleTop))
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" fill="#1565c0">0</text>`, plotRight+4, axisY)
	step := niceCeil(end / 8)
	for t := 0.0; t <= end+1; t += step {
		fmt.Fprintf(b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#999"/>`, x(t), x(t), axisY+failH, axisY+failH+4)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x(t), labelsY, seconds(t))
	}
	b.WriteString("</g></svg>\n")
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
