package app

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/axiomops/axiom-audit/storage"
)

func (c *cli) tokenCommand() *cobra.Command {
	token := &cobra.Command{Use: "token", Short: "Manage bearer tokens of the local REST API"}

	var req TokenRequest
	var expires string
	var yes bool
	create := &cobra.Command{
		Use:   "create --org ORG --scope read|append [--expires 30d]",
		Short: "Create a token (shown once, on the last line)",
		Long: "Creates a bearer token for one organization. The token is printed once, alone\n" +
			"on the last line of stdout; only its hash is kept.\n\n" +
			"Break-glass access (--break-glass --reason TEXT --expires ≤24h) is read-only,\n" +
			"needs confirmation (or --yes), is audited as a material action, and every\n" +
			"request made with it is audited too.\n\n" +
			"A read token answers events with their states' commitments only; with\n" +
			"--include-sensitive it also answers the decrypted beforeState/afterState and\n" +
			"may export them (recorded as includesStates in audit.token_created).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if expires != "" {
				d, ok := parseAgo(expires)
				if !ok {
					return &RequestError{Field: "--expires", Reason: fmt.Sprintf("%q is not a duration like 12h or 30d (at most 36500d)", expires)}
				}
				req.Expires = d
			}
			if req.BreakGlass && !yes {
				fmt.Fprintf(cmd.ErrOrStderr(), "Grant BREAK-GLASS read access to organization %q for %s?\nReason: %s\nThis is recorded in the audit log. Type 'yes' to confirm: ",
					req.Org, expires, req.Reason)
				line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if strings.TrimSpace(line) != "yes" {
					return &ExitError{Code: 1, Err: fmt.Errorf("break-glass access not granted: not confirmed")}
				}
			}
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				// Tokens are made and listed only here, not through the
				// app's API (a token must not mint tokens).
				return explained(err, "%v: tokens are made and listed while nothing else holds the log: "+
					"close the desktop app or stop serve (or let the command that holds it finish), and retry", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			t, err := a.createToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "token %s for organization %s, scope %s", t.ID, t.Org, t.Scope)
			if t.ExpiresAt != "" {
				fmt.Fprintf(out, ", expires %s", t.ExpiresAt)
			}
			if t.BreakGlass {
				fmt.Fprint(out, " (break-glass)")
			}
			if t.States {
				fmt.Fprint(out, ", sees decrypted states")
			}
			fmt.Fprintln(out, "\nStore it now: it is not shown again.")
			fmt.Fprintln(out, t.Token)
			return nil
		},
	}
	create.Flags().StringVar(&req.Org, "org", "", "organization `ID` the token may access")
	create.Flags().StringVar(&req.Scope, "scope", ScopeRead, "read or append")
	create.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 12h or 30d (default: never; break-glass: at most 24h)")
	create.Flags().BoolVar(&req.BreakGlass, "break-glass", false, "emergency read access, audited per request")
	create.Flags().BoolVar(&req.States, "include-sensitive", false, "let the read token see decrypted beforeState/afterState (otherwise their commitments only)")
	create.Flags().StringVar(&req.Reason, "reason", "", "why break-glass access is needed")
	create.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	create.Flags().BoolVar(&req.NewOrg, "new-org", false, "allow an organization with no events yet (a producer's first append token)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, closeApp, err := c.open(cmd)
			if errors.Is(err, storage.ErrLocked) {
				// Tokens are made and listed only here, not through the
				// app's API (a token must not mint tokens).
				return explained(err, "%v: tokens are made and listed while nothing else holds the log: "+
					"close the desktop app or stop serve (or let the command that holds it finish), and retry", err)
			}
			if err != nil {
				return err
			}
			defer closeApp()
			tokens, err := a.listTokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tORG\tSCOPE\tCREATED\tEXPIRES\tSTATE")
			now := time.Now()
			for _, t := range tokens {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Org, t.Scope+map[bool]string{true: "+states"}[t.States]+map[bool]string{true: " (break-glass)"}[t.BreakGlass],
					t.CreatedAt, orDash(t.ExpiresAt), tokenState(t, now))
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (also while the desktop app or serve runs, through it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Through a running app when it holds the profile: a leaked
			// token must not wait for the app to close.
			b, closeB, err := c.backend(cmd)
			if err != nil {
				return err
			}
			defer closeB()
			t, err := b.revokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "token %s revoked at %s\n", t.ID, t.RevokedAt)
			return nil
		},
	}
	token.AddCommand(create, list, revoke)
	return token
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tokenState(t TokenDTO, now time.Time) string {
	if t.RevokedAt != "" {
		return "revoked"
	}
	if t.ExpiresAt != "" {
		if exp, err := time.Parse(time.RFC3339Nano, t.ExpiresAt); err == nil && !now.Before(exp) {
			return "expired"
		}
	}
	return "active"
}
