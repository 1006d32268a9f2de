package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/zoogate/zoogate/topology"
)

// cmdTLSIssue implements `zoogate tls issue`: a certificate for an
// observer that joins at run time, signed by the CA tls init wrote.
func cmdTLSIssue(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("tls issue", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() { fmt.Fprint(stderr, tlsUsage) }
	join := fset.String("join", "", "the join file of the observer to certify (its cluster name, id and addresses)")
	caDir := fset.String("ca-dir", "", "the directory holding ca.crt and ca.key (zoogate tls init's --out)")
	out := fset.String("out", "", "directory to write node-<id>.crt and node-<id>.key into (default: --ca-dir)")
	force := fset.Bool("force", false, "overwrite an existing certificate of that id")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	if *join == "" || *caDir == "" || fset.NArg() > 0 {
		fmt.Fprint(stderr, tlsUsage)
		return 2
	}
	if *out == "" {
		*out = *caDir
	}
	j, err := topology.LoadJoin(*join)
	if err != nil {
		printErrors(stderr, "zoogate tls issue: ", err)
		return 1
	}
	ca, caKey, err := loadCA(*caDir)
	if err != nil {
		fmt.Fprintf(stderr, "zoogate tls issue: --ca-dir %s: %v\n", *caDir, err)
		return 1
	}
	now := time.Now()
	files, err := nodeCertFiles(j.Cluster.Name, &j.Node, ca, caKey, now.Add(-time.Hour), earliest(now.Add(certValidity), ca.NotAfter))
	if err != nil {
		fmt.Fprintf(stderr, "zoogate tls issue: %v\n", err)
		return 1
	}
	if err := writeTLSFiles(*out, files, *force); err != nil {
		fmt.Fprintf(stderr, "zoogate tls issue: %v\n", err)
		return 1
	}
	for _, tf := range files {
		fmt.Fprintf(stdout, "wrote %s (mode %04o)\n", filepath.Join(*out, tf.name), tf.mode)
	}
	return 0
}

// loadCA reads dir/ca.crt and dir/ca.key.
func loadCA(dir string) (*x509.Certificate, crypto.Signer, error) {
	certPEMBytes, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEMBytes, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEMBytes)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("ca.crt: no PEM CERTIFICATE block")
	}
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("ca.crt: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("ca.crt is not a CA certificate")
	}
	kb, _ := pem.Decode(keyPEMBytes)
	if kb == nil {
		return nil, nil, fmt.Errorf("ca.key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("ca.key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("ca.key: not a signing key")
	}
	return ca, signer, nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
