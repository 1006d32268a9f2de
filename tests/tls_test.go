package tests

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zoogate/zoogate/core/server"
	"github.com/zoogate/zoogate/internal/testpki"
	"github.com/zoogate/zoogate/internal/testport"
)

// clientDN is the subject of the client certificate of these tests, as
// both servers name an x509 identity (Java's X500Principal.getName()).
const clientDN = "CN=client,O=zoogate"

// cliDN is the subject of the certificate zkCli presents: one RDN, as
// zkCli's setAcl splits its ACL list on commas, so a DN with several RDNs
// cannot be written there.
const cliDN = "CN=zkcli"

// storePass protects the PKCS12 stores the Java clients and server use.
const storePass = "changeit"

// tlsFiles are a test deployment's CA, a server and a client certificate
// (PEM), and for Java the same as PKCS12 key stores plus a trust store.
type tlsFiles struct {
	dir                            string
	ca, serverCert, serverKey      string
	clientCert, clientKey          string
	cliCert, cliKey                string // zkCli's (cliDN), in clientP12
	serverP12, clientP12, trustP12 string
}

// makeTLSFiles generates the files in a temporary directory: an ECDSA CA,
// and certificates for 127.0.0.1 (both carry it, as ZooKeeper's hostname
// verification checks it on either side).
func makeTLSFiles(t *testing.T) *tlsFiles {
	t.Helper()
	dir := t.TempDir()
	f := &tlsFiles{dir: dir,
		ca: filepath.Join(dir, "ca.crt"), serverCert: filepath.Join(dir, "server.crt"), serverKey: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.crt"), clientKey: filepath.Join(dir, "client.key"),
		cliCert: filepath.Join(dir, "cli.crt"), cliKey: filepath.Join(dir, "cli.key"),
		serverP12: filepath.Join(dir, "server.p12"), clientP12: filepath.Join(dir, "client.p12"), trustP12: filepath.Join(dir, "trust.p12")}
	ca := testpki.New(t, "zoogate test CA")
	writeFile(t, f.ca, ca.CertPEM())
	issue := func(subject pkix.Name, certPath, keyPath string) {
		c, k := testpki.PEM(t, ca.Issue(testpki.Leaf{Subject: subject,
			IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}))
		writeFile(t, certPath, c)
		writeFile(t, keyPath, k)
	}
	issue(pkix.Name{CommonName: "node-1", Organization: []string{"zoogate"}}, f.serverCert, f.serverKey)
	issue(pkix.Name{CommonName: "client", Organization: []string{"zoogate"}}, f.clientCert, f.clientKey)
	issue(pkix.Name{CommonName: "zkcli"}, f.cliCert, f.cliKey)
	return f
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// javaStores writes the PKCS12 stores (openssl and keytool).
func (f *tlsFiles) javaStores(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"openssl", "keytool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: run `apt-get install openssl default-jre-headless`", tool)
		}
	}
	run := func(name string, args ...string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run("openssl", "pkcs12", "-export", "-in", f.serverCert, "-inkey", f.serverKey, "-name", "server", "-out", f.serverP12, "-passout", "pass:"+storePass)
	run("openssl", "pkcs12", "-export", "-in", f.cliCert, "-inkey", f.cliKey, "-name", "zkcli", "-out", f.clientP12, "-passout", "pass:"+storePass)
	run("keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", f.ca, "-keystore", f.trustP12, "-storetype", "PKCS12", "-storepass", storePass)
}

// startZoogateTLS runs zoogate with a TLS client port.
func startZoogateTLS(t *testing.T, f *tlsFiles) *server.Server {
	t.Helper()
	cfg := zoogateConfig(t)
	cfg.ClientTLSAddr = testport.Addr(t)
	cfg.TLSCert, cfg.TLSKey, cfg.TLSCA = f.serverCert, f.serverKey, f.ca
	srv, err := server.New(cfg, testLogger(t, "zoogate"))
	if err != nil {
		t.Fatalf("zoogate config: %v", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatalf("zoogate start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// startZooKeeperTLS runs Apache ZooKeeper 3.8.0 with a secureClientPort
// (Netty, the x509 provider, the PKCS12 stores); it returns the server
// and its TLS address.
func startZooKeeperTLS(t *testing.T, f *tlsFiles) (*zkServer, string) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	opt := binaryZKOptions()
	opt.Cfg = []string{
		fmt.Sprintf("secureClientPort=%d", port),
		"secureClientPortAddress=127.0.0.1",
		"serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
		"authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
	}
	opt.Props = []string{
		"zookeeper.ssl.keyStore.location=" + f.serverP12, "zookeeper.ssl.keyStore.password=" + storePass, "zookeeper.ssl.keyStore.type=PKCS12",
		"zookeeper.ssl.trustStore.location=" + f.trustP12, "zookeeper.ssl.trustStore.password=" + storePass, "zookeeper.ssl.trustStore.type=PKCS12",
	}
	opt.Jars = nettyJars
	z := startZooKeeper(t, opt)
	return z, fmt.Sprintf("127.0.0.1:%d", port)
}

// nettyJars are the Netty jars the Debian zookeeper.jar manifest leaves
// out and its Netty transport (server and client) needs.
var nettyJars = []string{"/usr/share/java/netty-codec.jar", "/usr/share/java/netty-resolver.jar"}

// runKazooTLS runs kazoo_tls.py against a TLS address.
func runKazooTLS(t *testing.T, f *tlsFiles, addr, noCert string) string {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import kazoo").Run(); err != nil {
		t.Fatalf("%s cannot import kazoo (%v): run `apt-get install python3-kazoo`", debianPython, err)
	}
	out, err := runScript(t, 2*time.Minute, nil, debianPython, "kazoo/kazoo_tls.py", "--hosts", addr,
		"--ca", f.ca, "--certfile", f.clientCert, "--keyfile", f.clientKey, "--x509-id", clientDN, "--no-cert", noCert)
	if err != nil {
		t.Fatalf("kazoo_tls.py against %s: %v\n%s", addr, err, out)
	}
	if !regexp.MustCompile(`(?m)^[1-9]\d* passed, 0 failed$`).MatchString(out) {
		t.Fatalf("kazoo_tls.py printed no passing summary:\n%s", out)
	}
	return out
}

// TestTLSKazoo: Kazoo with use_ssl=True against zoogate's TLS port: CRUD,
// an x509 ACL for the client certificate's subject, NoAuth for a client
// without a certificate (which zoogate serves).
func TestTLSKazoo(t *testing.T) {
	f := makeTLSFiles(t)
	srv := startZoogateTLS(t, f)
	t.Log(strings.TrimSpace(runKazooTLS(t, f, srv.TLSAddr().String(), "served")))
}

// TestTLSKazooAgainstZooKeeper: the same script against Apache ZooKeeper
// 3.8.0, where a client without a certificate is refused (its default
// ssl.clientAuth=need): the x509 checks hold on the reference.
func TestTLSKazooAgainstZooKeeper(t *testing.T) {
	f := makeTLSFiles(t)
	f.javaStores(t)
	_, addr := startZooKeeperTLS(t, f)
	t.Log(strings.TrimSpace(runKazooTLS(t, f, addr, "refused")))
}

// zkCliTLSScript creates a node, reads it, shows the identity and gives
// the node an x509 ACL, which must still admit the same client.
const zkCliTLSScript = `create /tlscli hello
get /tlscli
whoami
setAcl /tlscli x509:` + cliDN + `:cdrwa
getAcl /tlscli
get /tlscli
quit
`

var identityLine = regexp.MustCompile(`^(ip|x509): `)

// runZkCliTLS runs ZooKeeper's CLI (ZooKeeperMain, what zkCli.sh runs,
// with the Netty jars zkCli.sh's class path lacks) over TLS with the
// client certificate, and returns the lines that matter.
func runZkCliTLS(t *testing.T, f *tlsFiles, addr string) []string {
	t.Helper()
	java := requireZooKeeper(t)
	cp := strings.Join(append([]string{zkJar, zkLogJar}, nettyJars...), ":")
	args := []string{"-Xmx128m", "-XX:TieredStopAtLevel=1", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
		"-Dzookeeper.client.secure=true", "-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
		"-Dzookeeper.ssl.keyStore.location=" + f.clientP12, "-Dzookeeper.ssl.keyStore.password=" + storePass, "-Dzookeeper.ssl.keyStore.type=PKCS12",
		"-Dzookeeper.ssl.trustStore.location=" + f.trustP12, "-Dzookeeper.ssl.trustStore.password=" + storePass, "-Dzookeeper.ssl.trustStore.type=PKCS12",
		"-cp", cp, "org.apache.zookeeper.ZooKeeperMain", "-server", addr}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, args...)
	cmd.Stdin = strings.NewReader(zkCliTLSScript)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("zkCli over TLS against %s did not finish in 2 minutes:\n%s", addr, out)
	}
	if err != nil {
		t.Fatalf("zkCli over TLS against %s: %v\n%s", addr, err, out)
	}
	var lines []string
	keep := regexp.MustCompile(`^(hello|Created /tlscli|Auth scheme: User|ip: .*|x509: .*|'x509,'.*|: cdrwa|.*(Error|Exception|Insufficient).*)$`)
	prompt := regexp.MustCompile(`^(\[zk: [^\]]*\] ?)+`)                        // a prompt may precede a reply's first line
	logLine := regexp.MustCompile(`^\[[^\]]+\] (TRACE|DEBUG|INFO|WARN|ERROR) `) // slf4j-simple's lines
	for _, l := range strings.Split(string(out), "\n") {
		if logLine.MatchString(l) {
			continue
		}
		l = strings.TrimSpace(prompt.ReplaceAllString(strings.TrimSpace(l), ""))
		if keep.MatchString(l) {
			lines = append(lines, l)
		}
	}
	t.Logf("zkCli over TLS against %s:\n%s", addr, out)
	// whoami's identities in a fixed order: ZooKeeper lists ip and x509 in
	// the order its Netty handshake and connection set-up happened to add them.
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && identityLine.MatchString(lines[j]) {
			j++
		}
		if j > i {
			slices.Sort(lines[i:j])
			i = j
		} else {
			i++
		}
	}
	return lines
}

// TestTLSZkCli: zkCli over TLS with a client certificate gives zoogate
// and Apache ZooKeeper 3.8.0 the same answers: the node, whoami with the
// x509 identity, the x509 ACL, the read it admits.
func TestTLSZkCli(t *testing.T) {
	f := makeTLSFiles(t)
	f.javaStores(t)
	srv := startZoogateTLS(t, f)
	_, zkAddr := startZooKeeperTLS(t, f)
	got := runZkCliTLS(t, f, srv.TLSAddr().String())
	want := runZkCliTLS(t, f, zkAddr)
	for _, l := range []string{"Created /tlscli", "x509: " + cliDN, "'x509,'" + cliDN, ": cdrwa"} {
		found := false
		for _, w := range want {
			found = found || w == l
		}
		if !found {
			t.Errorf("ZooKeeper's zkCli output lacks %q: %q", l, want)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("zkCli over TLS:\nzoogate:   %q\nZooKeeper: %q", got, want)
	}
}
