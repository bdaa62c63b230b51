package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// DefaultAddr is where `serve` listens unless told otherwise.
const DefaultAddr = "127.0.0.1:8787"

// ServeOptions configure the HTTP server of `serve` and the desktop app.
type ServeOptions struct {
	Addr        string
	AllowRemote bool
	TLSCert     string
	TLSKey      string
	CORSOrigin  string
	Hosts       []string // with AllowRemote: names clients use for this machine
	Assets      fs.FS    // the built frontend, or nil for the API alone
	LoginToken  string
	LocalSecret string // the desktop app's credential for the local CLI
}

// checkListenAddr refuses non-loopback addresses unless remote access was
// asked for explicitly, with TLS.
func checkListenAddr(o ServeOptions) error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return &RequestError{Field: "--addr", Reason: fmt.Sprintf("%q is not host:port", o.Addr)}
	}
	if len(o.Hosts) > 0 && !o.AllowRemote {
		return &RequestError{Field: "--host", Reason: "names this machine for remote clients: it needs --allow-remote"}
	}
	if loopbackHost(host) {
		return nil
	}
	if !o.AllowRemote {
		return &RequestError{Field: "--addr", Reason: fmt.Sprintf("%q is not a loopback address; the API listens on this machine only unless --allow-remote is given with --tls-cert and --tls-key", host)}
	}
	if o.TLSCert == "" || o.TLSKey == "" {
		return &RequestError{Field: "--allow-remote", Reason: "needs --tls-cert and --tls-key: the API never travels a network in clear text"}
	}
	return nil
}

// newServer returns an http.Server with timeouts fit for a local API.
func newServer(h http.Handler, base context.Context) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
}

// randomToken is n random bytes, base64url: login links, sessions, the
// local credential.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *cli) serveCommand() *cobra.Command {
	o := ServeOptions{Addr: DefaultAddr}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API and the web UI on this machine",
		Long: "Serves the local REST API and the timeline UI for a browser. It prints a URL\n" +
			"with a one-time login token: open it on this machine to get in. Other programs\n" +
			"use bearer tokens from 'axiom-audit token create'.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkListenAddr(o); err != nil {
				return err
			}
			if c.cfg.Assets != nil {
				if dist, err := fs.Sub(c.cfg.Assets, "frontend/dist"); err == nil {
					if _, err := fs.Stat(dist, "index.html"); err == nil {
						o.Assets = dist
					}
				}
			}
			o.LoginToken = randomToken(24)
			a, closeApp, err := c.open(cmd)
			if err != nil {
				return err
			}
			defer closeApp()
			// Like the desktop app, serve delivers to the sync destinations
			// while it runs; the loops stop before the store closes.
			a.startSync()
			defer a.closeSync()
			a.startRetention(RetentionInterval) // stopped by closeApp, before the store closes
			a.startTextSketches()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			ln, err := net.Listen("tcp", o.Addr)
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("failed to listen on %s: another program (perhaps another serve, of another profile) uses that port: choose another with --addr, such as --addr 127.0.0.1:8788: %w", o.Addr, err)
			}
			if err != nil {
				return fmt.Errorf("failed to listen on %s: %w", o.Addr, err)
			}
			// While serve holds the profile, the CLI goes through it, as it
			// does through the desktop app (plain loopback only: that is
			// what the CLI dials).
			if !o.AllowRemote && o.TLSCert == "" && a.opts.Keystore != nil && a.opts.Paths.DataDir != "" {
				secret, withdraw, err := a.advertiseLocalAPI(ctx, ln.Addr().String())
				if err != nil {
					ln.Close()
					return err
				}
				defer withdraw()
				o.LocalSecret = secret
			}
			return a.serve(ctx, ln, o, func(url string) {
				fmt.Fprintf(cmd.OutOrStdout(), "Axiom Audit is serving profile %q. Open this link on this machine (it works once):\n\n    %s\n\n",
					a.opts.Paths.Profile, url)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", DefaultAddr, "listen on `HOST:PORT` (loopback only unless --allow-remote)")
	f.BoolVar(&o.AllowRemote, "allow-remote", false, "allow a non-loopback --addr (requires --tls-cert and --tls-key)")
	f.StringVar(&o.TLSCert, "tls-cert", "", "TLS certificate `FILE` (PEM)")
	f.StringVar(&o.TLSKey, "tls-key", "", "TLS private key `FILE` (PEM)")
	f.StringVar(&o.CORSOrigin, "cors-origin", "", "allow cross-origin requests from this one `ORIGIN` (none by default)")
	f.StringArrayVar(&o.Hosts, "host", nil, "with --allow-remote: a `NAME` clients reach this machine by, accepted in the Host header (repeatable)")
	return cmd
}

// remoteHosts is what the Host header of a remote request may name: the
// --host names, and the listen address; for a wildcard address (0.0.0.0,
// ::) this machine's name and the addresses of its interfaces instead.
func remoteHosts(addr string, names []string) []string {
	hosts := slices.Clone(names)
	host, _, _ := net.SplitHostPort(addr)
	if !wildcardHost(host) {
		return append(hosts, host)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			// Link-local addresses need a zone, which a Host header
			// and a link cannot carry.
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				hosts = append(hosts, ipn.IP.String())
			}
		}
	}
	return hosts
}

func wildcardHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// serve runs the API on ln until ctx ends. announce receives the login URL
// once the listener is ready.
func (a *App) serve(ctx context.Context, ln net.Listener, o ServeOptions, announce func(url string)) error {
	ho := HandlerOptions{Assets: o.Assets, CORSOrigin: o.CORSOrigin, LoginToken: o.LoginToken, LocalSecret: o.LocalSecret}
	linkAddr := ln.Addr().String()
	if o.AllowRemote {
		ho.AllowedHosts = remoteHosts(o.Addr, o.Hosts)
		if host, _, _ := net.SplitHostPort(o.Addr); wildcardHost(host) && len(ho.AllowedHosts) > 0 {
			_, port, _ := net.SplitHostPort(linkAddr)
			linkAddr = net.JoinHostPort(ho.AllowedHosts[0], port)
		}
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	srv := newServer(a.Handler(ho), base)
	scheme := "http"
	if o.TLSCert != "" {
		scheme = "https"
	}
	errc := make(chan error, 1)
	go func() {
		if scheme == "https" {
			errc <- srv.ServeTLS(ln, o.TLSCert, o.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if announce != nil && o.LoginToken != "" {
		announce(fmt.Sprintf("%s://%s/login?token=%s", scheme, linkAddr, o.LoginToken))
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	cancel() // ends live streams, which never finish on their own
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
