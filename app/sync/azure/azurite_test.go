package azure_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	gosync "sync"
	"syscall"
	"testing"
	"time"
)

// The Azurite emulator's well-known development account
// (https://learn.microsoft.com/azure/storage/common/storage-use-azurite):
// a published key, not a secret.
const (
	devAccount = "devstoreaccount1"
	devKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// skipEnv, set to 1, skips the tests that need Azurite instead of failing
// them when it is not installed. make test installs it and never sets it.
const skipEnv = "AXIOM_SKIP_AZURITE"

// azurite is the emulator this test binary started, shared by its tests
// (each uses its own containers) and stopped by TestMain.
var azurite struct {
	mu   gosync.Mutex
	url  string // http://127.0.0.1:PORT/devstoreaccount1
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopAzurite()
	os.Exit(code)
}

// azuriteBinary is the azurite-blob that build/scripts/setup.sh installs
// with npm ci from build/azurite/package-lock.json.
func azuriteBinary() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "build", "azurite", "node_modules", ".bin", "azurite-blob")
}

// accountURL returns the blob endpoint of the development account on an
// Azurite started on first use, failing t (or skipping it, when
// AXIOM_SKIP_AZURITE=1) when Azurite is not installed.
func accountURL(t testing.TB) string {
	t.Helper()
	azurite.mu.Lock()
	defer azurite.mu.Unlock()
	if azurite.url == "" && azurite.err == nil {
		azurite.err = startAzurite()
	}
	if azurite.err != nil {
		if os.Getenv(skipEnv) == "1" {
			t.Skipf("Azurite: %v (%s=1)", azurite.err, skipEnv)
		}
		t.Fatalf("Azurite: %v", azurite.err)
	}
	return azurite.url
}

func startAzurite() error {
	bin := azuriteBinary()
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the blob emulator is not installed (%s is missing): run 'make test', or 'make setup-test' then the tests again, which installs it with npm ci in build/azurite; or set %s=1 to skip these tests", bin, skipEnv)
	}
	var last error
	// A free port can be taken between its choice and Azurite's listen:
	// try another then.
	for range 3 {
		port, err := freePort()
		if err != nil {
			return err
		}
		dir, err := os.MkdirTemp("", "azurite-")
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose",
			"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port))
		cmd.Dir = dir
		out := &limitedBuffer{max: 4096}
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("failed to start %s: %w", bin, err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); os.RemoveAll(dir); close(done) }()
		url := fmt.Sprintf("http://127.0.0.1:%d/%s", port, devAccount)
		if err := waitReady(url, done, 30*time.Second); err != nil {
			kill(cmd, done)
			last = fmt.Errorf("%w; its output: %s", err, out.String())
			continue
		}
		azurite.url, azurite.cmd, azurite.done = url, cmd, done
		return nil
	}
	return last
}

// waitReady polls the endpoint until Azurite answers (any status: the
// request has no credentials).
func waitReady(url string, exited <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	hc := http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("azurite-blob exited before it answered")
		default:
		}
		if resp, err := hc.Get(url + "?comp=list"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("azurite-blob did not answer at %s within %s", url, d)
}

func stopAzurite() {
	azurite.mu.Lock()
	defer azurite.mu.Unlock()
	if azurite.cmd != nil {
		kill(azurite.cmd, azurite.done)
		azurite.cmd = nil
	}
}

// kill stops Azurite (its process group: npm's bin may be a shell
// wrapper), politely first.
func kill(cmd *exec.Cmd, done <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// closedPort is a loopback address where nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d/%s", p, devAccount)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  gosync.Mutex
	buf []byte
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
