// goload: a closed-loop HTTPS GET load generator that costs far less CPU per request than
// the server it measures, so a benchmark's figures are the server's, not the client's.
//
// -conns keep-alive HTTP/1.1 connections, one request in flight each, GET -path until
// -seconds pass or -max requests are sent; prints one JSON object: requests, elapsed
// seconds, latency percentiles in ms, non-200 statuses, and the client's own CPU seconds.
// Standard library only, so it builds offline.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Requests   int            `json:"requests"`
	Elapsed    float64        `json:"elapsed"`
	P50Ms      float64        `json:"p50_ms"`
	P99Ms      float64        `json:"p99_ms"`
	MaxMs      float64        `json:"max_ms"`
	Errors     map[string]int `json:"errors"`
	CPUSeconds float64        `json:"client_cpu_seconds"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func main() {
	url := flag.String("url", "", "https://host:port/path to GET")
	ca := flag.String("ca", "", "CA bundle (PEM)")
	serverName := flag.String("server-name", "", "TLS server name (default: the URL's host)")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	insecure := flag.Bool("insecure", false, "skip verifying the server's certificate")
	header := flag.String("header", "", "one extra request header, `Name: value`")
	conns := flag.Int("conns", 16, "connections, one request in flight each")
	seconds := flag.Float64("seconds", 10, "stop after this long")
	max := flag.Int64("max", 200000, "stop after this many requests")
	flag.Parse()
	if *url == "" || !strings.HasPrefix(*url, "https://") {
		fmt.Fprintln(os.Stderr, "goload: -url https://... is required")
		os.Exit(2)
	}
	cfg := &tls.Config{
		ServerName: *serverName, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: *insecure,
	}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goload:", err)
			os.Exit(2)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.RootCAs = pool
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fmt.Fprintln(os.Stderr, "goload:", err)
			os.Exit(2)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	transport := &http.Transport{
		TLSClientConfig:     cfg,
		MaxIdleConns:        *conns,
		MaxIdleConnsPerHost: *conns,
		MaxConnsPerHost:     *conns,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	name, value, _ := strings.Cut(*header, ":")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)

	var budget atomic.Int64
	budget.Store(*max)
	var mu sync.Mutex
	latencies := make([]float64, 0, 1<<16)
	errors := map[string]int{}
	cpuBefore := cpuSeconds()
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]float64, 0, 1<<12)
			localErr := map[string]int{}
			for budget.Add(-1) >= 0 && time.Now().Before(deadline) {
				req, _ := http.NewRequest("GET", *url, nil)
				req.Header.Set("Accept", "application/json")
				req.Header.Set("User-Agent", "goload")
				if name != "" {
					req.Header.Set(name, value)
				}
				sent := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					localErr["transport"]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, float64(time.Since(sent).Microseconds())/1000)
				if resp.StatusCode != 200 {
					localErr[fmt.Sprint(resp.StatusCode)]++
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			for k, v := range localErr {
				errors[k] += v
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(latencies)
	pct := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(q * float64(len(latencies)))
		if i >= len(latencies) {
			i = len(latencies) - 1
		}
		return latencies[i]
	}
	out := result{
		Requests: len(latencies), Elapsed: elapsed, P50Ms: pct(0.5), P99Ms: pct(0.99),
		MaxMs: pct(1), Errors: errors, CPUSeconds: cpuSeconds() - cpuBefore,
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
