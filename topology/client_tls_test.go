package topology

import "testing"

// TestClientTLSKey: client_tls is decoded; it needs tls_cert, tls_key and
// [cluster] tls_ca, each reported by name; a bad or reused address is an
// error naming node[i].client_tls.
func TestClientTLSKey(t *testing.T) {
	src := node1 + "client_tls = \"0.0.0.0:2281\"\ntls_cert = \"n1.crt\"\ntls_key = \"n1.key\"\n[cluster]\ntls_ca = \"ca.crt\"\n"
	f, err := Parse([]byte(src), "test.toml")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.Nodes[0]; n.ClientTLS != "0.0.0.0:2281" || n.TLSCert != "n1.crt" || n.TLSKey != "n1.key" || f.Cluster.TLSCA != "ca.crt" {
		t.Fatalf("decoded %+v, tls_ca %q", n, f.Cluster.TLSCA)
	}

	expectProblems(t, problemsOf(t, node1+"client_tls = \"127.0.0.1:2281\"\n"),
		want{"node[0].tls_cert", 1, "is required with client_tls"},
		want{"node[0].tls_key", 1, "is required with client_tls"},
		want{"cluster.tls_ca", 0, "is required when a node has client_tls"})
	withTLS := "tls_cert = \"n1.crt\"\ntls_key = \"n1.key\"\n[cluster]\ntls_ca = \"ca.crt\"\n"
	expectProblems(t, problemsOf(t, node1+"client_tls = \"localhost\"\n"+withTLS),
		want{"node[0].client_tls", 5, "port"})
	expectProblems(t, problemsOf(t, node1+"client_tls = \"127.0.0.1:2181\"\n"+withTLS),
		want{"node[0].client_tls", 5, "already used by node[0].client"})
}
