// Package e2e runs the binaries as a user would start them: separate
// processes, configured only by environment variables, against a NATS
// server process, a MinIO process and the sandbox process. The checking
// client here uses nats.go and minio-go directly, not our packages, as an
// independent downstream service would.
package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// build compiles the binaries once for the test.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/",
		"github.com/kybflow/kybflow/cmd/worker",
		"github.com/kybflow/kybflow/cmd/kybflow-dev",
		"github.com/kybflow/kybflow/cmd/webhook-bridge",
		"github.com/kybflow/kybflow/cmd/aml-sandbox",
		"github.com/nats-io/nats-server/v2")
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// freeAddr is a free 127.0.0.1 address for a binary to listen on
// (testenv.FreeAddr: outside the ephemeral port range).
func freeAddr(t *testing.T) string {
	t.Helper()
	a, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// proc is a started binary whose output is kept for failures.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan error
}

func start(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &testenv.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited: done says so
		select {
		case <-p.done: //nolint:errcheck // stopping it: how it exits no longer matters
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done //nolint:errcheck // killed: the exit error says only that
		}
		if t.Failed() {
			t.Logf("---- %s output ----\n%s", name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit error and how long it took.
func (p *proc) stop(t *testing.T) (time.Duration, error) {
	t.Helper()
	begin := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited: done says how
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return time.Since(begin), err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30s of SIGTERM", p.name)
		return 0, nil
	}
}

func waitHTTP(t *testing.T, url string, p *proc) {
	t.Helper()
	err := testenv.Poll(60*time.Second, func() error {
		select {
		case err := <-p.done:
			p.done <- err // for start's cleanup, which waits for the exit
			t.Fatalf("%s exited: %v\n%s", p.name, err, p.out.String())
		default:
		}
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s never answered 200 at %s (%v)\n%s", p.name, url, err, p.out.String())
	}
}

func TestBinariesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	bin := build(t)
	s3 := testenv.MinIO(t)

	natsAddr, sandboxAddr, bridgeAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	workerOps, bridgeOps := freeAddr(t), freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	natsURL := "nats://" + natsAddr
	const secret = "whsec_ZTJlLXdlYmhvb2stc2VjcmV0" // "e2e-webhook-secret"

	start(t, "nats-server", filepath.Join(bin, "nats-server"), nil, "-js", "-a", host, "-p", port, "-sd", t.TempDir())
	sandbox := start(t, "aml-sandbox", filepath.Join(bin, "aml-sandbox"), []string{
		"SANDBOX_LISTEN=" + sandboxAddr, "WEBHOOK_SECRET=" + secret, "SANDBOX_READY_AFTER=300ms",
	})
	waitHTTP(t, "http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sandbox)

	worker := start(t, "worker", filepath.Join(bin, "worker"), []string{
		"NATS_URL=" + natsURL,
		"AML_API_URL=http://" + sandboxAddr,
		"AML_ISSUER_URL=http://" + sandboxAddr + "/auth/realms/sandbox",
		"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret",
		"AML_WEBHOOK_URL=http://" + bridgeAddr + "/webhooks",
		"S3_ENDPOINT=" + s3.Endpoint, "S3_BUCKET=kyb-results", "S3_ACCESS_KEY=" + s3.AccessKey,
		"S3_SECRET_KEY=" + s3.SecretKey, "S3_REGION=us-east-1", "S3_SECURE=false",
		"HTTP_ADDR=" + workerOps, "POLL_INITIAL=200ms", "POLL_MAX=1s",
	})
	waitHTTP(t, "http://"+workerOps+"/readyz", worker)
	bridge := start(t, "webhook-bridge", filepath.Join(bin, "webhook-bridge"), []string{
		"NATS_URL=" + natsURL, "LISTEN_ADDR=" + bridgeAddr, "HTTP_ADDR=" + bridgeOps, "WEBHOOK_SECRET=" + secret,
	})
	waitHTTP(t, "http://"+bridgeOps+"/readyz", bridge)

	// The independent client: publish commands, read AML_EVENTS.
	js := connect(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	watch := watchTerminal(t, ctx, js)

	commands := map[string]string{
		"e2e-no":  `{"lookupId":"e2e-no","type":"organization","country":"NO","identifier":"923609016","expands":["roles","sanction"],"reports":["aml","certificate_of_incorporation"],"metadata":{"case":17}}`,
		"e2e-se":  `{"lookupId":"e2e-se","type":"organization","country":"SE","identifier":"556036-0793","reports":["aml"]}`,
		"e2e-fi":  `{"lookupId":"e2e-fi","type":"organization","country":"FI","identifier":"0112038-9"}`,
		"e2e-bo":  `{"lookupId":"e2e-bo","type":"beneficial_owners","identifier":"988077917","reports":["aml"]}`,
		"e2e-bad": `{"lookupId":"e2e-bad","type":"organization","country":"NO","identifier":"923609017"}`,
	}
	for id, body := range commands {
		// Twice each: the second is a duplicate the system must absorb.
		for range 2 {
			if _, err := js.Publish(ctx, "aml.commands.lookup", []byte(body), jetstream.WithMsgID(id)); err != nil {
				t.Fatal(err)
			}
		}
	}

	terminal := waitTerminal(t, watch, sandboxAddr, len(commands), 90*time.Second)

	mc, err := minio.New(s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s3.AccessKey, s3.SecretKey, ""), Secure: false})
	if err != nil {
		t.Fatal(err)
	}
	for id := range commands {
		evs := terminal[id]
		if len(evs) != 1 {
			t.Errorf("%s: %d terminal events, want exactly 1", id, len(evs))
			continue
		}
		ev := evs[0]
		var data struct {
			Code      string `json:"code"`
			Reason    string `json:"reason"`
			Metadata  json.RawMessage
			Artifacts []struct {
				Name, Bucket, Key, SHA256, ContentType string
				Size                                   int64
			} `json:"artifacts"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		if id == "e2e-bad" {
			if !strings.HasSuffix(ev.Type, "failed.v1") || data.Code != "invalid_identifier" || !strings.Contains(data.Reason, "923609017") {
				t.Errorf("bad identifier: %s %s %q", ev.Type, data.Code, data.Reason)
			}
			continue
		}
		if !strings.HasSuffix(ev.Type, "completed.v1") {
			t.Errorf("%s: %s %s", id, ev.Type, ev.Data)
			continue
		}
		if id == "e2e-no" && string(data.Metadata) != `{"case":17}` {
			t.Errorf("metadata not echoed: %s", data.Metadata)
		}
		for _, a := range data.Artifacts {
			obj, err := mc.GetObject(ctx, a.Bucket, a.Key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, obj)
			obj.Close()
			if err != nil {
				t.Fatalf("%s %s: %v", id, a.Key, err)
			}
			if n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
				t.Errorf("%s %s: bucket has %d bytes sha256 %x; event says %d %s", id, a.Name, n, h.Sum(nil), a.Size, a.SHA256)
			}
			if a.Name != "json" && !bytes.HasPrefix(readPrefix(t, mc, a.Bucket, a.Key), []byte("%PDF-")) {
				t.Errorf("%s %s is not a PDF", id, a.Name)
			}
		}
	}
	// SIGTERM: each binary drains and exits 0.
	for _, p := range []*proc{bridge, worker} {
		took, err := p.stop(t)
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", p.name, err)
		}
		t.Logf("%s stopped %s after SIGTERM", p.name, took.Round(time.Millisecond))
	}
}

func readPrefix(t *testing.T, mc *minio.Client, bucket, key string) []byte {
	t.Helper()
	obj, err := mc.GetObject(context.Background(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b := make([]byte, 5)
	if _, err := io.ReadFull(obj, b); err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// natsAndSandbox builds the binaries and starts a nats-server process with
// JetStream and the sandbox with the given extra settings (SANDBOX_*=...),
// as the crash tests need them. It returns the binaries' directory, the
// NATS URL and the sandbox's address.
func natsAndSandbox(t *testing.T, sandboxEnv ...string) (bin, natsURL, sandboxAddr string) {
	t.Helper()
	bin = build(t)
	natsAddr := freeAddr(t)
	sandboxAddr = freeAddr(t)
	host, port, _ := net.SplitHostPort(natsAddr)
	start(t, "nats-server", filepath.Join(bin, "nats-server"), nil, "-js", "-a", host, "-p", port, "-sd", t.TempDir())
	sandbox := start(t, "aml-sandbox", filepath.Join(bin, "aml-sandbox"), append([]string{"SANDBOX_LISTEN=" + sandboxAddr}, sandboxEnv...))
	waitHTTP(t, "http://"+sandboxAddr+"/auth/realms/sandbox/.well-known/openid-configuration", sandbox)
	return bin, "nats://" + natsAddr, sandboxAddr
}
