package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestAdminStatusPage: GET / on the admin address answers the status page,
// a self-contained HTML document (no external script, style, image or
// font) whose script polls this node's own JSON commands; HEAD answers
// the headers only, other methods 405; any other unknown path is still
// not found.
func TestAdminStatusPage(t *testing.T) {
	s := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	status, hdr, body := adminDo(t, s, http.MethodGet, "/", "")
	if status != http.StatusOK || hdr.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %q", status, hdr.Get("Content-Type"))
	}
	page := string(body)
	for _, want := range []string{"<!DOCTYPE html>", "<style>", "<script>", `"/commands/"`, `getJSON("topology")`,
		`getJSON("gossip")`, `getJSON("monitor")`, `id="sites"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
	// Nothing is loaded from elsewhere: no src or stylesheet link, no
	// absolute URL but the links the script builds to other nodes' pages.
	if m := regexp.MustCompile(`(?i)<(script|img|iframe)[^>]*\ssrc=|<link[^>]*>|@import|url\(`).FindString(page); m != "" {
		t.Errorf("the status page loads an external asset: %q", m)
	}
	if m := regexp.MustCompile(`https?://[^"' ]+`).FindAllString(page, -1); len(m) != 0 {
		t.Errorf("the status page names absolute URLs: %q", m)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if status, hdr, body := adminDo(t, s, http.MethodHead, "/", ""); status != http.StatusOK || len(body) != 0 ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Errorf("HEAD /: %d %q %d bytes", status, hdr.Get("Content-Type"), len(body))
	}
	if status, hdr, _ := adminDo(t, s, http.MethodPost, "/", ""); status != http.StatusMethodNotAllowed || hdr.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", status, hdr.Get("Allow"))
	}
	for _, path := range []string{"/index.html", "/status", "/commandsx", "/metrics/x"} {
		if status, hdr, _ := adminDo(t, s, http.MethodGet, path, ""); status != http.StatusNotFound || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %q, want 404 JSON", path, status, hdr.Get("Content-Type"))
		}
	}
}
