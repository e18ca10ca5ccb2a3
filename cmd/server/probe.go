package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"idletrace/cmd/server/probe"
)

const probeUsage = `usage: server probe [--json] [--max DURATION] [--resolution DURATION] [--parallel N] [--insecure] [--post URL --token T] TARGET

TARGET is https://HOST[:PORT][/path] (after the idle time an HTTP request on
the same TLS connection must get a response, e.g. an Exchange VIP and
/owa/healthcheck.htm) or tcp://HOST:PORT (a few bytes written must produce
bytes back, e.g. an echo service). Run it from a client behind the device
you suspect. It takes about --max, or the timeout, per round. --post sends
the result to an idletrace server (URL of the server; a token of scope
ingest in --token or IDLETRACE_TOKEN), which shows it beside the diagnosis
it confirms or contradicts.
`

// Exit codes of probe besides 0 (measured, also when nothing timed out),
// 1 (no connection could be used) and 2 (usage).
const exitInterrupted = 130 // stopped by Ctrl-C: the bracket so far was printed

// runProbe measures the idle timeout of the path to a target.
func runProbe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the result as JSON (the body a probe would be posted with)")
	max := fs.Duration("max", probe.DefaultMax, "longest idle time to try")
	res := fs.Duration("resolution", 0, "stop when the bracket is this narrow (default 1 % of the timeout, at least 5s)")
	parallel := fs.Int("parallel", probe.DefaultParallel, "connections opened together in each round (2-256)")
	silent := fs.Duration("silent-wait", probe.DefaultSilentWait, "how long a used connection may stay unanswered before it counts as silently dropped")
	insecure := fs.Bool("insecure", false, "do not check the TLS certificate (self-signed test targets only)")
	site := fs.String("site", "", "where this computer is (e.g. HQ), recorded in the result")
	post := fs.String("post", "", "send the result to the idletrace server at this URL (e.g. https://idletrace.corp.example)")
	token := fs.String("token", os.Getenv("IDLETRACE_TOKEN"), "token (scope ingest) for --post (env IDLETRACE_TOKEN)")
	fs.Usage = func() {
		fmt.Fprint(stderr, probeUsage)
		fs.PrintDefaults()
	}
	targets, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if msg := checkProbeFlags(targets, *max, *res, *parallel, *silent); msg == "" && *post != "" && !strings.HasPrefix(*post, "http://") && !strings.HasPrefix(*post, "https://") {
		fmt.Fprintf(stderr, "probe: --post wants the server's http:// or https:// URL\n%s", probeUsage)
		return 2
	} else if msg != "" {
		fmt.Fprintf(stderr, "probe: %s\n%s", msg, probeUsage)
		return 2
	}
	target, err := probe.ParseTarget(targets[0])
	if err != nil {
		fmt.Fprintf(stderr, "probe: %v\n%s", err, probeUsage)
		return 2
	}
	host, _ := os.Hostname()
	cfg := probe.Config{
		Max: *max, Resolution: *res, Parallel: *parallel, SilentWait: *silent, Insecure: *insecure,
		Computer: host, Site: *site,
		Progress: func(p probe.Progress) { fmt.Fprintln(stderr, "probe:", p) },
	}
	fmt.Fprintf(stderr, "probe: %s, up to %v idle, %d connections a round; Ctrl-C prints the bracket so far\n", target, *max, *parallel)
	r, err := probe.Run(ctx, target, cfg)
	code := 0
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		code = exitInterrupted
	case err != nil:
		fmt.Fprintln(stderr, "probe:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = probe.WriteText(stdout, r)
	}
	if err != nil {
		fmt.Fprintln(stderr, "probe: write result:", err)
		return 1
	}
	if *post != "" {
		id, err := postProbe(ctx, *post, *token, r)
		if err != nil {
			fmt.Fprintln(stderr, "probe: post:", err)
			return 1
		}
		fmt.Fprintf(stderr, "probe: posted to %s as probe %d\n", *post, id)
	}
	return code
}

// postProbe sends a result to an idletrace server and returns its id there.
func postProbe(ctx context.Context, base, token string, r *probe.Result) (int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return probe.Post(ctx, http.DefaultClient, base, token, r)
}

// checkProbeFlags returns what is wrong with the command line, or "".
func checkProbeFlags(targets []string, max, res time.Duration, parallel int, silent time.Duration) string {
	switch {
	case len(targets) != 1:
		return fmt.Sprintf("want one TARGET, got %d", len(targets))
	case max <= 0:
		return "--max must be positive"
	case res < 0 || res >= max:
		return "--resolution must be between 0 (automatic) and --max"
	case parallel < 2 || parallel > 256:
		return "--parallel must be between 2 and 256"
	case silent <= 0:
		return "--silent-wait must be positive"
	}
	return ""
}
