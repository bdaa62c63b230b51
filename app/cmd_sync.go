package app

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	axsync "github.com/axiomops/axiom-audit/app/sync"
	"github.com/axiomops/axiom-audit/app/sync/azure"
)

// syncYieldPause is how long sync run-now, between two slices, leaves the
// log to a command waiting for it (which looks every 200 ms).
var syncYieldPause = 500 * time.Millisecond

// syncCommand is `axiom-audit sync enable|disable|run-now|status`.
func (c *cli) syncCommand() *cobra.Command {
	syncCmd := &cobra.Command{
		Use:   "sync",
		Short: "Opt-in sync to the cloud tenant, S3-compatible storage, Azure Blob Storage or a SIEM webhook",
		Long: "Sync is off by default. Each organization opts in per destination; only that\n" +
			"organization's events leave, with state commitments only unless\n" +
			"--include-sensitive. Enabling, disabling, failures and recoveries are audited.\n" +
			"The desktop app (and serve) delivers in the background while it is open, and\n" +
			"these commands go through its local API then; run-now delivers what is pending\n" +
			"and returns.",
	}

	var cfg axsync.Config
	var to, secretFile, tokenFile, credsFile string
	enable := &cobra.Command{
		Use:   "enable --org ORG --to webhook|s3|azure|tenant ...",
		Short: "Opt an organization in to a destination",
		Long: "  --to webhook --url URL --format jsonl|ocsf|ecs|splunk-hec --secret-file FILE [--include-sensitive]\n" +
			"  --to s3 --bucket B [--prefix P] [--endpoint URL] [--region R] [--credentials-file FILE]\n" +
			"        [--object-lock-mode GOVERNANCE|COMPLIANCE --object-lock-days N]\n" +
			"  --to azure --account-url https://ACCOUNT.blob.core.windows.net --container C\n" +
			"        [--prefix P] --credentials-file FILE\n" +
			"  --to tenant --url URL --token-file FILE\n\n" +
			"Secrets (the webhook secret, the tenant token, S3 keys, the Azure shared key\n" +
			"or SAS token) go to the keychain, never to the configuration. S3 without\n" +
			"--credentials-file uses the standard AWS chain (environment, shared config,\n" +
			"SSO, instance role); Azure needs one: {\"accountName\":…,\"accountKey\":…},\n" +
			"NAME:KEY, {\"sasToken\":\"sv=…\"} or the SAS token itself.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Org == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			kind, err := axsync.ParseKind(to)
			if err != nil {
				return &RequestError{Field: "--to", Reason: err.Error()}
			}
			cfg.Kind = kind
			allowed := map[axsync.Kind][]string{
				axsync.KindWebhook: {"url", "format", "secret-file", "include-sensitive"},
				axsync.KindS3:      {"bucket", "prefix", "endpoint", "region", "credentials-file", "object-lock-mode", "object-lock-days", "include-sensitive"},
				axsync.KindAzure:   {"account-url", "container", "prefix", "credentials-file", "include-sensitive"},
				axsync.KindTenant:  {"url", "token-file"},
			}[kind]
			for _, name := range []string{"url", "format", "secret-file", "include-sensitive", "bucket", "prefix", "endpoint", "region",
				"credentials-file", "object-lock-mode", "object-lock-days", "token-file", "account-url", "container"} {
				if cmd.Flags().Changed(name) && !slices.Contains(allowed, name) {
					return &RequestError{Field: "--" + name, Reason: "does not apply to --to " + to}
				}
			}
			var secret []byte
			switch kind {
			case axsync.KindWebhook:
				if secretFile == "" {
					return &RequestError{Field: "--secret-file", Reason: "is required for a webhook"}
				}
				if secret, err = readSecretFile("--secret-file", secretFile); err != nil {
					return err
				}
			case axsync.KindTenant:
				if tokenFile == "" {
					return &RequestError{Field: "--token-file", Reason: "is required for the tenant"}
				}
				if secret, err = readSecretFile("--token-file", tokenFile); err != nil {
					return err
				}
			case axsync.KindS3:
				if credsFile != "" {
					if secret, err = readSecretFile("--credentials-file", credsFile); err != nil {
						return err
					}
				}
			case axsync.KindAzure:
				if cfg.AccountURL == "" {
					return &RequestError{Field: "--account-url", Reason: "is required for azure (https://ACCOUNT.blob.core.windows.net)"}
				}
				if cfg.Container == "" {
					return &RequestError{Field: "--container", Reason: "is required for azure"}
				}
				if credsFile == "" {
					return &RequestError{Field: "--credentials-file", Reason: "is required for azure: a shared key or a SAS token (Azure AD sign-in is not supported)"}
				}
				if secret, err = readSecretFile("--credentials-file", credsFile); err != nil {
					return err
				}
				if _, err := azure.ParseCredentials(secret); err != nil {
					return &RequestError{Field: "--credentials-file", Reason: err.Error()}
				}
				if err := cfg.Validate(); err != nil {
					return &RequestError{Field: azureFlag(err), Reason: err.Error()}
				}
			}
			b, closeApp, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeApp()
			// Enabling is recorded in the organization's log: an --org
			// with a typo would become an organization for good.
			if err := orgHasEvents(cmd.Context(), b, cfg.Org); err != nil {
				return err
			}
			if err := b.syncEnable(cmd.Context(), cfg, secret); err != nil {
				return err
			}
			what := "state commitments only"
			if cfg.IncludeSensitive {
				what = "decrypted states included"
			}
			if cfg.ObjectLockMode != "" {
				what += fmt.Sprintf(", every object locked %s for %d days", cfg.ObjectLockMode, cfg.ObjectLockDays)
			} else if kind == axsync.KindS3 {
				what += ", no object lock"
			}
			if kind == axsync.KindAzure {
				what += ", immutable only if the container has an immutability policy"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sync of organization %s to %s enabled (%s); run 'axiom-audit sync run-now --org %s' or open the app to deliver\n",
				cfg.Org, string(kind)+" "+cfg.ShownTarget(), what, cfg.Org)
			return nil
		},
	}
	ef := enable.Flags()
	ef.StringVar(&cfg.Org, "org", "", "organization `ID`")
	ef.StringVar(&to, "to", "", "destination: webhook, s3, azure or tenant")
	ef.StringVar(&cfg.URL, "url", "", "webhook or tenant `URL` (https)")
	ef.StringVar(&cfg.Format, "format", "", "webhook body format: jsonl, ocsf, ecs or splunk-hec")
	ef.StringVar(&secretFile, "secret-file", "", "`FILE` holding the webhook's HMAC secret (kept in the keychain)")
	ef.BoolVar(&cfg.IncludeSensitive, "include-sensitive", false, "send decrypted beforeState/afterState (default: commitments only)")
	ef.StringVar(&cfg.Bucket, "bucket", "", "S3 `BUCKET`")
	ef.StringVar(&cfg.Prefix, "prefix", "", "S3 key or Azure blob name `PREFIX`")
	ef.StringVar(&cfg.Endpoint, "endpoint", "", "S3-compatible endpoint `URL` (MinIO, R2, GCS); default AWS")
	ef.StringVar(&cfg.Region, "region", "", "S3 `REGION`")
	ef.StringVar(&credsFile, "credentials-file", "", "`FILE` with S3 keys ({\"accessKeyId\":…,\"secretAccessKey\":…} or ID:SECRET) or an Azure shared key or SAS token, kept in the keychain")
	ef.StringVar(&cfg.AccountURL, "account-url", "", "Azure storage account blob endpoint `URL` (https://ACCOUNT.blob.core.windows.net)")
	ef.StringVar(&cfg.Container, "container", "", "Azure Blob `CONTAINER`")
	ef.StringVar(&cfg.ObjectLockMode, "object-lock-mode", "", "S3 Object Lock retention mode: GOVERNANCE or COMPLIANCE")
	ef.IntVar(&cfg.ObjectLockDays, "object-lock-days", 0, "S3 Object Lock retention in `DAYS`")
	ef.StringVar(&tokenFile, "token-file", "", "`FILE` holding the tenant's bearer token (kept in the keychain)")

	var dOrg, dTo string
	disable := &cobra.Command{
		Use:   "disable --org ORG --to KIND",
		Short: "Opt an organization out of a destination",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dOrg == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			if dTo == "" {
				return &RequestError{Field: "--to", Reason: "is required"}
			}
			b, closeApp, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeApp()
			if err := b.syncDisable(cmd.Context(), dOrg, dTo); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sync of organization %s to %s disabled; its secret was erased from the profile's keystore\n", dOrg, dTo)
			return nil
		},
	}
	disable.Flags().StringVar(&dOrg, "org", "", "organization `ID`")
	disable.Flags().StringVar(&dTo, "to", "", "destination: webhook, s3, azure or tenant")

	var rOrg string
	var rJSON bool
	runNow := &cobra.Command{
		Use:   "run-now --org ORG",
		Short: "Deliver what is pending to the organization's destinations and return",
		Long: "Delivers every pending event to each enabled destination of the organization,\n" +
			"then prints their status. Exits 1 if a destination failed. A destination\n" +
			"stopped by a rejection is tried again; one stopped by an integrity alert is not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rOrg == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			b, closeApp, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer func() { closeApp() }()
			slice := c.cfg.SyncSlice
			if slice <= 0 {
				slice = 10 * time.Second
			}
			var st []SyncStatus
			var runErr error
			for {
				a, ok := b.(*App)
				if !ok {
					// Through the desktop app's (or serve's) API: it holds
					// the log anyway, and delivers the whole of it.
					st, runErr = b.syncRunNow(cmd.Context(), rOrg)
					break
				}
				// This process holds the log: it delivers in slices and
				// lets a producer's append (or any command waiting for the
				// log) in between, rather than make it wait for the whole
				// backlog and every slow answer.
				var more bool
				st, more, runErr = a.syncRunNowUntil(cmd.Context(), rOrg, time.Now().Add(slice))
				if runErr != nil || !more {
					break
				}
				closeApp()
				closeApp = noClose
				c.verbosef(cmd, "delivered for %s; letting other commands at the log before going on", slice)
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-time.After(syncYieldPause):
				}
				nb, nclose, err := c.backend(cmd)
				if err != nil {
					return fmt.Errorf("delivered part of what was pending, then could not open the log again to go on: %w", err)
				}
				b, closeApp = nb, nclose
			}
			if st == nil && runErr != nil {
				return runErr
			}
			if err := printSyncStatus(cmd, st, rJSON); err != nil {
				return err
			}
			if runErr != nil {
				return &ExitError{Code: 1, Err: runErr}
			}
			return nil
		},
	}
	runNow.Flags().StringVar(&rOrg, "org", "", "organization `ID`")
	runNow.Flags().BoolVar(&rJSON, "json", false, "print the status as JSON")

	var sOrg string
	var sJSON bool
	status := &cobra.Command{
		Use:   "status --org ORG [--json]",
		Short: "Show each destination's lag, last success and last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sOrg == "" {
				return &RequestError{Field: "--org", Reason: "is required"}
			}
			b, closeApp, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeApp()
			st, err := b.syncStatus(cmd.Context(), sOrg)
			if err != nil {
				return err
			}
			return printSyncStatus(cmd, st, sJSON)
		},
	}
	status.Flags().StringVar(&sOrg, "org", "", "organization `ID`")
	status.Flags().BoolVar(&sJSON, "json", false, "print JSON: one object per destination with lagEvents, lagSeconds, lastSuccess, lastError")

	syncCmd.AddCommand(enable, disable, runNow, status)
	return syncCmd
}

// azureFlag names the flag an azure Config.Validate error is about.
func azureFlag(err error) string {
	if strings.Contains(err.Error(), "container") {
		return "--container"
	}
	return "--account-url"
}

func readSecretFile(flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &RequestError{Field: flag, Reason: err.Error()}
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, &RequestError{Field: flag, Reason: "the file is empty"}
	}
	return b, nil
}

func printSyncStatus(cmd *cobra.Command, st []SyncStatus, asJSON bool) error {
	out := cmd.OutOrStdout()
	if asJSON {
		if st == nil {
			st = []SyncStatus{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if len(st) == 0 {
		fmt.Fprintln(out, "no destination: sync is off for this organization")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TO\tTARGET\tSTATE\tLAG EVENTS\tLAG\tLAST SUCCESS\tLAST ERROR")
	for _, s := range st {
		last := "never"
		if s.LastSuccess != nil {
			last = s.LastSuccess.Local().Format(time.DateTime)
		}
		lastErr := s.LastError
		if s.Stopped != "" {
			lastErr = s.Stopped
		}
		switch {
		case lastErr == "":
			lastErr = "-"
		case s.State == axsync.StateHealthy && s.LastErrorAt != nil:
			// Delivered since: the error is history, not the state.
			lastErr = "(recovered) " + s.LastErrorAt.Local().Format(time.DateTime) + " " + lastErr
		}
		lag := (time.Duration(s.LagSeconds) * time.Second).String()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.To, s.Target, s.State, s.LagEvents, lag, last, truncateLine(lastErr, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range st {
		if s.PrunedBeforeDelivery > 0 {
			fmt.Fprintf(out, "%s: %s pruned by retention before delivery: the destination's copy lacks them\n",
				s.To, count(int64(s.PrunedBeforeDelivery), "event"))
		}
	}
	return nil
}

// truncateLine fits s on one line of about n bytes, keeping its start and
// its end: an error's cause (NoSuchBucket, InvalidAccessKeyId) is at its
// end, after the object key it failed on.
func truncateLine(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	head, tail := n*2/5, n-n*2/5
	for head > 0 && !utf8.RuneStart(s[head]) {
		head--
	}
	cut := len(s) - tail
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return s[:head] + " … " + s[cut:]
}
