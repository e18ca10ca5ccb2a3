// Command server runs idletrace: the dashboard and API (default), or an
// offline analysis of log files ("analyze"), or a measurement of a path's
// idle timeout ("probe").
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "analyze":
			return runAnalyze(ctx, args[1:], stdout, stderr)
		case "serve":
			return runServe(ctx, args[1:], stdout, stderr)
		case "token":
			return runToken(ctx, args[1:], stdout, stderr)
		case "ingest":
			return runIngest(ctx, args[1:], stdout, stderr)
		case "probe":
			return runProbe(ctx, args[1:], stdout, stderr)
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		}
	}
	return runServe(ctx, args, stdout, stderr)
}

const usage = `idletrace finds the network device that kills idle Outlook connections.

Usage:
  server [serve] [flags]                 serve the dashboard and API (default)
  server analyze [--json] [--tz ZONE] PATH...
                                         analyze files or directories offline
  server ingest [-db FILE] FILE...       load files into the database without a server
  server token create --name NAME --scope ingest|read|admin
  server token list
  server token revoke ID|NAME           manage API tokens (each takes -db)
  server probe [--json] [--max D] [--resolution D] [--parallel N] [--insecure] TARGET
                                         measure the idle timeout of the path to
                                         https://HOST[:PORT][/path] or tcp://HOST:PORT
  server help                            this text

Run "server serve -h", "server analyze -h" or "server probe -h" for the flags.
`
