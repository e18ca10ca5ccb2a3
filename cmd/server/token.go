package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"idletrace/store"
)

const tokenUsage = `Usage:
  server token create --name NAME --scope ingest|read|admin [-db FILE]
  server token list [-db FILE]
  server token revoke ID|NAME [-db FILE]

Scopes: read (GET the API and the dashboard), ingest (upload and send
events), admin (both, and managing tokens). A token is shown only when it
is created; the database keeps its SHA-256.
`

// runToken manages API tokens in the database directly (no server needed).
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, tokenUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", envOr("IDLETRACE_DB", "./idletrace.db"), "SQLite database file (env IDLETRACE_DB)")
	var name, scope string
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "a name saying who or what uses the token, e.g. splunk-prod")
		fs.StringVar(&scope, "scope", "", "ingest, read or admin")
	case "list", "revoke":
	default:
		fmt.Fprintf(stderr, "server token: unknown command %q\n%s", sub, tokenUsage)
		return 2
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if sub == "create" && (name == "" || !store.ValidScope(scope)) {
		fmt.Fprintln(stderr, "server token create: --name and --scope (ingest, read or admin) are required")
		return 2
	}
	if sub == "revoke" && len(pos) != 1 || sub != "revoke" && len(pos) != 0 {
		fmt.Fprintf(stderr, "server token %s: wrong arguments\n%s", sub, tokenUsage)
		return 2
	}
	db, err := openStore(ctx, *dbPath, store.Options{}, "")
	if err != nil {
		fmt.Fprintln(stderr, "server token:", err)
		return 1
	}
	defer db.Close()
	switch sub {
	case "create":
		secret, t, err := db.CreateToken(ctx, name, scope)
		if err != nil {
			fmt.Fprintln(stderr, "server token:", err)
			return 1
		}
		// The token is the last word, so scripts can take it with awk '{print $NF}'.
		fmt.Fprintf(stdout, "Created token %d %q with scope %s. Copy it now, it is not shown again:\n%s\n", t.ID, t.Name, t.Scope, secret)
	case "list":
		ts, err := db.FindTokens(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "server token:", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPE\tTOKEN\tCREATED\tLAST USED\tSTATUS")
		for _, t := range ts {
			status := "active"
			if t.RevokedAt != nil {
				status = "revoked " + t.RevokedAt.Format(time.RFC3339)
			}
			used := "never"
			if t.LastUsedAt != nil {
				used = t.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Scope, t.Hint, t.CreatedAt.Format(time.RFC3339), used, status)
		}
		tw.Flush()
	case "revoke":
		t, err := db.RevokeToken(ctx, pos[0])
		if err != nil {
			fmt.Fprintln(stderr, "server token:", err)
			return 1
		}
		fmt.Fprintf(stdout, "Revoked token %d %q (scope %s): requests with it now get 401.\n", t.ID, t.Name, t.Scope)
	}
	return 0
}

// parseInterspersed parses args with fs, flags before and after the
// positional arguments ("revoke NAME -db FILE" as well as "revoke -db FILE
// NAME"), and returns the positional ones. "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
