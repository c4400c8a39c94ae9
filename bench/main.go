// Command bench measures xapisim through real HTTP on loopback and prints a table:
// get_record throughput over JSON-RPC and XML-RPC at 1 and 64 connections beside a bare
// net/http handler that returns the same bytes (the ceiling any server could reach on
// this machine), and durable VM.set_name_label calls at 64 connections.
//
// Run it with `make bench`. Figures are machine-dependent; ratios to the bare server are
// what the targets are set on.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

var (
	duration   = flag.Duration("d", 3*time.Second, "how long each measurement runs")
	cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the event-latency rounds to this file")
	only       = flag.String("only", "", "run only this measurement: throughput, writes or events")
)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "xapisim-bench-")
	check(err)
	defer os.RemoveAll(dir)

	// A durable store (fsync on), as --db gives.
	st, err := store.Open(xapi.StoreSchema(datamodel.Load()), store.Options{Path: dir + "/state.db", Log: zerolog.Nop()})
	check(err)
	defer st.Close()
	srv, err := xapi.New(xapi.Config{Store: st, Log: zerolog.Nop(), RootPassword: "pw", IDs: xapi.NewIDs(1)})
	check(err)
	sim := cluster.New(srv, cluster.Spec{Hosts: 3})
	check(sim.BuildInventory())
	url := serve(srv)

	session := call(url+"/jsonrpc", `{"jsonrpc":"2.0","id":0,"method":"session.login_with_password","params":["root","pw"]}`)
	vm := firstVM(srv)

	if *only == "" || *only == "throughput" {
		throughput(url, session, vm)
	}
	if *only == "" || *only == "writes" {
		writes(url, session, vm)
	}
	if *only == "" || *only == "events" {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			check(err)
			check(pprof.StartCPUProfile(f))
			defer pprof.StopCPUProfile()
		}
		eventLatency(url, session)
	}
}

func throughput(url, session, vm string) {
	jsonBody := fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"VM.get_record","params":["%s","%s"]}`, session, vm)
	xmlBody := fmt.Sprintf(`<?xml version="1.0"?><methodCall><methodName>VM.get_record</methodName><params><param><value>%s</value></param><param><value>%s</value></param></params></methodCall>`, session, vm)
	fmt.Printf("get_record of a VM, requests per second over loopback HTTP (%s each)\n", *duration)
	fmt.Printf("%-10s %-6s %12s %12s %8s\n", "protocol", "conns", "xapisim", "bare", "ratio")
	for _, p := range []struct {
		name, path, body string
	}{{"JSON-RPC", "/jsonrpc", jsonBody}, {"XML-RPC", "/", xmlBody}} {
		reply, ctype := fetch(url+p.path, p.body)
		bare := serve(bareHandler(reply, ctype))
		for _, conns := range []int{1, 64} {
			ours := rate(url+p.path, p.body, conns)
			ceiling := rate(bare+p.path, p.body, conns)
			fmt.Printf("%-10s %-6d %12.0f %12.0f %8.2f\n", p.name, conns, ours, ceiling, ours/ceiling)
		}
	}

}

func writes(url, session, vm string) {
	var n atomic.Int64
	writes := rateFunc(64, func() []byte {
		i := n.Add(1)
		return []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":0,"method":"VM.set_name_label","params":["%s","%s","vm %d"]}`, session, vm, i))
	}, url+"/jsonrpc")
	fmt.Printf("\ndurable VM.set_name_label at 64 connections: %.0f calls/s (fsync'd group commit)\n", writes)
}

func firstVM(srv *xapi.Server) string {
	for _, o := range srv.Store.All("VM") {
		return o.Ref
	}
	panic("no VM")
}

// bareHandler is the ceiling: a handler that answers every request with fixed bytes and
// the same headers, doing no work.
func bareHandler(reply []byte, ctype string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Allow-Headers", "X-Requested-With")
		h.Set("Cache-Control", "no-cache, no-store")
		h.Set("Content-Length", fmt.Sprint(len(reply)))
		_, _ = w.Write(reply)
	})
}

func serve(h http.Handler) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go func() { _ = http.Serve(ln, h) }()
	return "http://" + ln.Addr().String()
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128, MaxConnsPerHost: 128}}

func fetch(url, body string) ([]byte, string) {
	resp, err := client.Post(url, "", strings.NewReader(body))
	check(err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	check(err)
	if resp.StatusCode != 200 || bytes.Contains(data, []byte("Failure")) || bytes.Contains(data, []byte(`"error"`)) {
		panic(fmt.Sprintf("bad reply from %s: %s", url, data))
	}
	return data, resp.Header.Get("Content-Type")
}

func call(url, body string) string {
	data, _ := fetch(url, body)
	s := string(data)
	i := strings.Index(s, `"result":"`) + len(`"result":"`)
	return s[i : i+strings.IndexByte(s[i:], '"')]
}

// rate runs conns clients posting body for the measurement period and returns requests
// per second.
func rate(url, body string, conns int) float64 {
	b := []byte(body)
	return rateFunc(conns, func() []byte { return b }, url)
}

func rateFunc(conns int, body func() []byte, url string) float64 {
	var done atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Post(url, "", bytes.NewReader(body()))
				check(err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
