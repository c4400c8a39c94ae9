// Command xapisim is a XenAPI server emulator: it answers like the xapi daemon of a
// XenServer / XCP-ng pool, over JSON-RPC and XML-RPC, and simulates the pool behind it.
//
// When it is ready it prints exactly one line on stdout, for scripts to eval:
//
//	export XAPI_URL=http://127.0.0.1:PORT XAPI_USER=root XAPI_PASSWORD=... XAPISIM_PID=N
//
// Logs go to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// DefaultPassword is root's password unless --password says otherwise.
const DefaultPassword = "xapisim"

type options struct {
	listen    string
	db        string
	ephemeral bool
	password  string
	logLevel  string
	seed      uint64
	durations xapi.Durations
	retention time.Duration
	users     string
	coverage  string
	clock     xapi.Clock
	pool      cluster.Spec
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("xapisim", flag.ContinueOnError)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address to serve on (port 0 picks a free port)")
	fs.StringVar(&o.db, "db", "xapisim.db", "state file; the pool survives restarts on the same file")
	fs.BoolVar(&o.ephemeral, "ephemeral", false, "keep state in a temporary file removed at exit (for CI)")
	fs.StringVar(&o.password, "password", DefaultPassword, "root's password in a new state file (afterwards the state file keeps it; session.change_password changes it)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (debug logs one line per call)")
	fs.Uint64Var(&o.seed, "seed", 0, "make refs and UUIDs of the default pool deterministic (0: random)")
	o.durations = xapi.Durations{}
	fs.Func("durations", "JSON file of simulated durations by message, e.g. {\"VM.start\": \"2s\", \"*\": \"0s\"}", func(path string) error {
		return loadDurations(path, o.durations)
	})
	fs.Func("duration", "simulated duration of one message, e.g. VM.start=2s (repeatable; \"*\" for every long operation)", func(v string) error {
		return o.durations.Set(v)
	})
	fs.StringVar(&o.users, "users", "", `JSON file of accounts besides root: [{"name": "alice", "password": "pw", "roles": ["read-only"]}]`)
	fs.StringVar(&o.coverage, "coverage", "", "print which explicit messages of these classes (comma-separated, or \"all\") have behaviour, and exit")
	fs.Func("clock", "freeze the pool's clock at this RFC 3339 time, for byte-stable records (default: real time)", func(v string) error {
		t, err := time.Parse(time.RFC3339, v)
		o.clock = xapi.FixedClock(t)
		return err
	})
	fs.DurationVar(&o.retention, "task-retention", xapi.DefaultTaskRetention, "how long completed tasks are kept")
	o.pool.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, nil
}

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		os.Exit(2)
	}
	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "xapisim:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	level, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := zerolog.New(os.Stderr).Level(level).With().Timestamp().Logger()

	path := o.db
	if o.ephemeral {
		f, err := os.CreateTemp("", "xapisim-*.db")
		if err != nil {
			return err
		}
		path = f.Name()
		f.Close()
		os.Remove(path) // bbolt creates it afresh
		defer os.Remove(path)
	}
	ids := xapi.NewIDs(o.seed)
	st, err := store.Open(xapi.StoreSchema(datamodel.Load()), store.Options{Path: path, NoSync: o.ephemeral, Log: log})
	if err != nil {
		return err
	}
	defer st.Close()

	srv, err := xapi.New(xapi.Config{Store: st, Log: log, RootPassword: o.password, IDs: ids, Clock: o.clock,
		Durations: o.durations, TaskRetention: o.retention})
	if err != nil {
		return err
	}
	if o.users != "" {
		users, err := xapi.LoadUsers(o.users)
		if err != nil {
			return fmt.Errorf("--users: %w", err)
		}
		if err := srv.AddUsers(users); err != nil {
			return err
		}
	}
	sim := cluster.New(srv, o.pool)
	if o.coverage != "" {
		classes := strings.Split(o.coverage, ",")
		if o.coverage == "all" {
			classes = nil
			for _, c := range srv.Schema.Classes {
				classes = append(classes, c.Name)
			}
		}
		cluster.WriteCoverage(os.Stdout, cluster.Coverage(srv, classes...))
		return nil
	}
	if st.IsNew() {
		if err := sim.BuildInventory(); err != nil {
			return fmt.Errorf("building the default pool: %w", err)
		}
	}
	if o.users != "" {
		// The users file is the directory of the pool's external authentication.
		if err := srv.EnableDirectory(); err != nil {
			return err
		}
	}
	// From now on the state file says what root's password is (session.change_password).
	if err := srv.KeepRootPassword(); err != nil {
		return err
	}
	defer srv.StartBackground()()

	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second, ErrorLog: nil}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()

	fmt.Printf("export XAPI_URL=http://%s XAPI_USER=root XAPI_PASSWORD=%s XAPISIM_PID=%d\n",
		readyAddr(ln.Addr()), srv.RootPassword(), os.Getpid())
	log.Info().Str("addr", ln.Addr().String()).Str("db", path).Msg("serving")

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	select {
	case sig := <-sigs:
		log.Info().Str("signal", sig.String()).Msg("stopping")
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(ctx)
	return nil
}

// readyAddr is the address clients should use: a wildcard listen address is reached on
// the loopback address.
func readyAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("127.0.0.1:%d", tcp.Port)
	}
	return tcp.String()
}

// loadDurations reads a JSON object of message names to durations ("2s", "150ms").
func loadDurations(path string, into xapi.Durations) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for name, d := range m {
		if err := into.Set(name + "=" + d); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	return nil
}
