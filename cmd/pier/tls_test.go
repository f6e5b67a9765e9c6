package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number, and returns it.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "pier test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key first: the pair is consistent once the certificate lands.
	if err := os.WriteFile(keyFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile+".tmp", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Rename(keyFile+".tmp", keyFile)
	os.Rename(certFile+".tmp", certFile)
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestBinaryTLS: the binary serves HTTPS (HTTP/2 for plain requests) with
// tls.cert and tls.key, and serves a new certificate after SIGHUP.
func TestBinaryTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	p := startPier(t, []string{"PIER_TLS_CERT=" + certFile, "PIER_TLS_KEY=" + keyFile}, "-addr", "127.0.0.1:0", "-pprof", "127.0.0.1:0")
	base := "https://" + p.base[len("http://"):]

	// pprof on its own address only.
	m := regexp.MustCompile(`pprof listening.* addr=(\S+)`).FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatal("no pprof address logged")
	}
	if res, _ := do(t, "GET", "http://"+m[1]+"/debug/pprof/", nil); res.StatusCode != 200 {
		t.Errorf("pprof: %d", res.StatusCode)
	}

	get := func(trusted *x509.Certificate) (*http.Response, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trusted)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(base + "/socket.io/?EIO=4&transport=polling")
		if err == nil {
			res.Body.Close()
		}
		return res, err
	}
	res, err := get(first)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.ProtoMajor != 2 {
		t.Fatalf("polling handshake over TLS: %d %s, want 200 over HTTP/2", res.StatusCode, res.Proto)
	}
	if res.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
		t.Fatal("not the first certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(first)
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if res, err := cl.Get(base + "/debug/pprof/"); err != nil || res.StatusCode != 404 {
		t.Errorf("pprof on the public address: %v %v", res.StatusCode, err)
	}

	second := writeCert(t, certFile, keyFile, 2)
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := get(second)
		if err == nil && res.TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate is not served after SIGHUP: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
}
