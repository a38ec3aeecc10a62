// gofanout: watch fan-out measured by a client that costs less CPU than the server.
//
// Opens -watchers watches of ConfigMaps in -namespace (one TLS connection each, HTTP/1.1
// chunked, from the list's resourceVersion), then -writers connections create ConfigMaps
// for -seconds, paced to -rate creates/s in total (0 = as fast as the server answers), at
// most -max creates. Each created object carries its creation time (data.t, Unix ns), so a
// watcher measures create-to-delivery latency from the event itself. After the writers stop
// it waits up to -drain seconds for every event to arrive, then prints one JSON object.
// Standard library only, so it builds offline.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Watchers        int            `json:"watchers"`
	WatchersOpen    int            `json:"watchers_open_at_end"`
	Created         int64          `json:"created"`
	CreateErrors    map[string]int `json:"create_errors"`
	CreateP50Ms     float64        `json:"create_p50_ms"`
	CreateP99Ms     float64        `json:"create_p99_ms"`
	WriteSeconds    float64        `json:"write_seconds"`
	Delivered       int64          `json:"delivered"`
	Expected        int64          `json:"expected"`
	DeliverySeconds float64        `json:"delivery_seconds"`
	EventP50Ms      float64        `json:"event_p50_ms"`
	EventP99Ms      float64        `json:"event_p99_ms"`
	EventMaxMs      float64        `json:"event_max_ms"`
	OtherEvents     int64          `json:"other_events"`
	CPUSeconds      float64        `json:"client_cpu_seconds"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// histogram of latencies in 0.1 ms buckets up to 60 s (4.8 MB): one for all watchers, one per
// writer; merging and percentiles stay cheap.
const buckets = 600_000

type histogram struct{ counts []int64 }

func newHistogram() *histogram { return &histogram{counts: make([]int64, buckets+1)} }

func (h *histogram) add(d time.Duration) {
	i := int(d / (100 * time.Microsecond))
	if i < 0 {
		i = 0
	}
	if i > buckets {
		i = buckets
	}
	atomic.AddInt64(&h.counts[i], 1) // one histogram shared by every watcher
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
}

func (h *histogram) pct(q float64) float64 {
	var total int64
	for _, c := range h.counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := int64(q * float64(total))
	if want >= total {
		want = total - 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen > want {
			return float64(i) / 10
		}
	}
	return float64(buckets) / 10
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gofanout:", err)
	os.Exit(2)
}

func main() {
	base := flag.String("base", "", "https://host:port of the API server")
	ca := flag.String("ca", "", "CA bundle (PEM)")
	serverName := flag.String("server-name", "", "TLS server name (default: the URL's host)")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	insecure := flag.Bool("insecure", false, "skip verifying the server's certificate")
	header := flag.String("header", "", "one extra request header, `Name: value`")
	namespace := flag.String("namespace", "bench-gofanout", "namespace (must exist)")
	watchers := flag.Int("watchers", 1000, "watch connections")
	writers := flag.Int("writers", 8, "writer connections, one create in flight each")
	rate := flag.Float64("rate", 0, "creates/s in total; 0 = as fast as answered")
	seconds := flag.Float64("seconds", 10, "how long the writers write")
	maxCreates := flag.Int64("max", 100000, "at most this many creates")
	drain := flag.Float64("drain", 15, "seconds to wait for the last events after writing")
	pad := flag.Int("object-bytes", 1024, "approximate size of each ConfigMap")
	flag.Parse()
	if !strings.HasPrefix(*base, "https://") {
		fail(fmt.Errorf("-base https://... is required"))
	}
	cfg := &tls.Config{ServerName: *serverName, NextProtos: []string{"http/1.1"}, InsecureSkipVerify: *insecure}
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fail(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		cfg.RootCAs = pool
	}
	if *cert != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			fail(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	newClient := func(conns int, timeout time.Duration) *http.Client {
		return &http.Client{Timeout: timeout, Transport: &http.Transport{
			TLSClientConfig: cfg, MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
			MaxConnsPerHost: conns, DisableCompression: true, ForceAttemptHTTP2: false,
			TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
		}}
	}
	hName, hValue, _ := strings.Cut(*header, ":")
	hName, hValue = strings.TrimSpace(hName), strings.TrimSpace(hValue)
	request := func(method, url string, body []byte) *http.Request {
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "gofanout")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if hName != "" {
			req.Header.Set(hName, hValue)
		}
		return req
	}
	collection := fmt.Sprintf("%s/api/v1/namespaces/%s/configmaps", *base, *namespace)

	// The starting revision: the list's.
	setup := newClient(1, 30*time.Second)
	resp, err := setup.Do(request("GET", collection+"?limit=1", nil))
	if err != nil {
		fail(err)
	}
	var list struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		fail(fmt.Errorf("list: status %d, %v", resp.StatusCode, err))
	}
	rv := list.Metadata.ResourceVersion

	// Watchers: each its own connection (its own Transport), counted once open.
	var delivered, other atomic.Int64
	var open atomic.Int64
	var ready sync.WaitGroup
	var done sync.WaitGroup
	events := newHistogram()
	stop := make(chan struct{})
	marker := []byte(`"t":"`)
	for i := 0; i < *watchers; i++ {
		ready.Add(1)
		done.Add(1)
		go func(h *histogram) {
			defer done.Done()
			client := newClient(1, 0)
			url := collection + "?watch=true&resourceVersion=" + rv + "&timeoutSeconds=3600"
			resp, err := client.Do(request("GET", url, nil))
			if err != nil || resp.StatusCode != 200 {
				ready.Done()
				return
			}
			open.Add(1)
			ready.Done()
			go func() { <-stop; resp.Body.Close() }()
			reader := bufio.NewReaderSize(resp.Body, 64*1024)
			for {
				line, err := reader.ReadSlice('\n')
				if err != nil {
					if err == bufio.ErrBufferFull {
						for err == bufio.ErrBufferFull {
							_, err = reader.ReadSlice('\n')
						}
						other.Add(1)
						continue
					}
					open.Add(-1)
					return
				}
				if !bytes.HasPrefix(line, []byte(`{"type":"ADDED"`)) {
					other.Add(1)
					continue
				}
				at := bytes.Index(line, marker)
				if at < 0 {
					other.Add(1)
					continue
				}
				rest := line[at+len(marker):]
				end := bytes.IndexByte(rest, '"')
				sent, perr := strconv.ParseInt(string(rest[:end]), 10, 64)
				if end < 0 || perr != nil {
					other.Add(1)
					continue
				}
				h.add(time.Duration(time.Now().UnixNano() - sent))
				delivered.Add(1)
			}
		}(events)
	}
	ready.Wait()
	watching := int(open.Load())

	// Writers.
	cpuBefore := cpuSeconds()
	padding := strings.Repeat("x", max(0, *pad-200))
	var budget atomic.Int64
	budget.Store(*maxCreates)
	var created atomic.Int64
	var seq atomic.Int64
	var mu sync.Mutex
	createHist := newHistogram()
	createErrors := map[string]int{}
	writeClient := newClient(*writers, 30*time.Second)
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	var wg sync.WaitGroup
	for w := 0; w < *writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := newHistogram()
			errs := map[string]int{}
			var interval time.Duration
			if *rate > 0 {
				interval = time.Duration(float64(*writers) / *rate * float64(time.Second))
			}
			next := start.Add(time.Duration(w) * interval / time.Duration(*writers))
			for budget.Add(-1) >= 0 && time.Now().Before(deadline) {
				if interval > 0 {
					time.Sleep(time.Until(next))
					next = next.Add(interval)
				}
				n := seq.Add(1)
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"f-%d"},"data":{"t":"%d","pad":"%s"}}`,
					n, time.Now().UnixNano(), padding)
				sent := time.Now()
				resp, err := writeClient.Do(request("POST", collection, []byte(body)))
				if err != nil {
					errs["transport"]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local.add(time.Since(sent))
				if resp.StatusCode == 201 {
					created.Add(1)
				} else {
					errs[fmt.Sprint(resp.StatusCode)]++
				}
			}
			mu.Lock()
			createHist.merge(local)
			for k, v := range errs {
				createErrors[k] += v
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	writeSeconds := time.Since(start).Seconds()
	expected := created.Load() * int64(watching)
	drainUntil := time.Now().Add(time.Duration(*drain * float64(time.Second)))
	for delivered.Load() < expected && time.Now().Before(drainUntil) {
		time.Sleep(10 * time.Millisecond) // polling, bounded by -drain
	}
	deliverySeconds := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpuBefore
	openAtEnd := int(open.Load())
	close(stop)
	done.Wait()
	all := events
	// Clean up this run's objects.
	if resp, err := setup.Do(request("DELETE", collection, nil)); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	_ = json.NewEncoder(os.Stdout).Encode(result{
		Watchers: watching, WatchersOpen: openAtEnd, Created: created.Load(),
		CreateErrors: createErrors, CreateP50Ms: createHist.pct(0.5), CreateP99Ms: createHist.pct(0.99),
		WriteSeconds: writeSeconds, Delivered: delivered.Load(), Expected: expected,
		DeliverySeconds: deliverySeconds, EventP50Ms: all.pct(0.5), EventP99Ms: all.pct(0.99),
		EventMaxMs: all.pct(1), OtherEvents: other.Load(), CPUSeconds: cpu,
	})
}
