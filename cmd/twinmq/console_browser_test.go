package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"
)

var consoleScreenshots = flag.Bool("console-screenshots", false, "TestConsoleBrowser writes each page to docs/console/<page>.png")

// chromium is the path of a Chromium (or Chrome) to drive, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestConsoleBrowser loads every page of the console in headless
// Chromium against a broker with Kafka and RocketMQ data, checks each one
// shows that data, searches a Kafka-produced record by key from the
// messages page, and resets a group from the group page, checked through
// the offset table (kadm's OffsetFetch). With -console-screenshots it
// writes docs/console/<page>.png.
func TestConsoleBrowser(t *testing.T) {
	path := chromium()
	if path == "" {
		t.Skip("no Chromium installed (Debian: apt-get install chromium; .ci/run installs it)")
	}
	e := newConsoleEnv(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1200, 820))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 120*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="cluster"][data-ready="true"]`))); err != nil {
		t.Fatalf("load the console: %v", err)
	}
	// show goes to a page (its hash) and waits until it has its data.
	// An empty hash stays on the page: actions (a form's submit) move on.
	show := func(hash, page string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		js := `document.getElementById('main').dataset.ready = 'false'`
		if hash != "" {
			js += `; location.hash = ` + jsString(hash)
		}
		all := []chromedp.Action[chromedp.Void]{chromedp.Evaluate[chromedp.Void](js)}
		all = append(all, actions...)
		all = append(all, chromedp.WaitVisible(chromedp.CSS(`main[data-page="`+page+`"][data-ready="true"]`)))
		if err := chromedp.Do(ctx, all...); err != nil {
			text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
			t.Fatalf("page %s (%s): %v\n%s", page, hash, err, text)
		}
	}
	// text is the text of the element sel.
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	rows := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	shot := func(name string) {
		t.Helper()
		if !*consoleScreenshots {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join("..", "..", "docs", "console")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantIn := func(what, got string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in:\n%s", what, w, got)
			}
		}
	}

	wantIn("cluster listeners", text("#listeners"), "kafka", "rocketmq", e.kafka[strings.LastIndex(e.kafka, ":"):])
	wantIn("cluster", text("main"), "ASYNC_MASTER", "broker-a")
	shot("cluster")

	show("#/topics", "topics")
	wantIn("topics", text("#topics"), "orders", "rmq-orders", "30")
	shot("topics")

	show("#/topics/orders", "topic")
	if n := rows("#partitions tbody tr"); n != 3 {
		t.Errorf("topic orders shows %d partitions, want 3", n)
	}
	if got := evalString(t, ctx, `[...document.querySelectorAll('#partitions tbody td:first-child')].map(e => e.textContent).join(',')`); got != "0,1,2" {
		t.Errorf("topic orders' partition column: %q, want 0,1,2", got)
	}
	wantIn("topic configs", text("#configs"), "retention.ms", "cleanup.policy")
	if got := evalString(t, ctx, `[...document.querySelectorAll('main a[href^="#/groups/"]')].map(e => e.textContent).join(',')`); got != "kgroup" {
		t.Errorf("topic orders' groups: %q, want kgroup", got)
	}
	shot("topic")

	show("#/groups", "groups")
	wantIn("groups", text("#groups"), "kgroup", "rgroup", "kafka", "rocketmq")
	shot("groups")

	show("#/groups/rgroup", "group")
	wantIn("group rgroup", text("#rocketmq-clients"), "@", "GO") // a RocketMQ client id is ip@instance
	wantIn("group rgroup", text("main"), "CLUSTERING", "rmq-orders (*)")

	show("#/messages?topic=orders&partition=1", "messages")
	wantIn("messages of orders/1", text("#messages"), "order-1", "order-28", "kafka value 28", "source=kafka", "TagK")
	show("#/messages?topic=rmq-orders&partition=0&offset=0", "messages")
	wantIn("messages of rmq-orders/0", text("#messages"), "rocketmq", "TagR", "color=blue", "rocketmq body")
	shot("messages")

	// A search by key from the form finds the Kafka-produced record.
	show("#/messages?topic=orders", "messages")
	show("", "messages",
		chromedp.SetValue(chromedp.CSS(`#search select[name="topic"]`), "orders"),
		chromedp.SetValue(chromedp.CSS(`#search select[name="by"]`), "key"),
		chromedp.SetValue(chromedp.CSS(`#search-q`), "order-7"),
		chromedp.Click(chromedp.CSS(`#search-go`)))
	if n := rows("#messages tbody tr"); n != 1 {
		t.Fatalf("search by key order-7: %d rows, want 1:\n%s", n, text("main"))
	}
	wantIn("search by key", text("#messages"), "order-7", "kafka value 7", "kafka")
	wantIn("search heading", text("main h2"), "1 found by key in orders")
	shot("search")

	show("#/dlq", "dlq")
	wantIn("dlq", text("#dlq"), "dgroup", "%DLQ%dgroup")
	shot("dlq")
	show("", "dlq", chromedp.Click(chromedp.CSS(`button.resend[data-group="dgroup"]`)))
	wantIn("re-send message", text("#flash"), "re-sent 2, skipped 0")
	show("#/groups/dgroup", "group") // a group known by its DLQ

	show("#/delay", "delay")
	wantIn("delay", text("#levels"), "2h0m0s", "1s")
	shot("delay")

	// Traffic while the metrics page polls: its rate shows on the chart.
	tctx, stopTraffic := context.WithCancel(ctx)
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		cl, err := kgo.NewClient(kgo.SeedBrokers(e.kafka), kgo.AllowAutoTopicCreation())
		if err != nil {
			return
		}
		defer cl.Close()
		for tctx.Err() == nil {
			cl.ProduceSync(tctx, &kgo.Record{Topic: "traffic", Value: []byte("tick")})
			time.Sleep(5 * time.Millisecond) // a trickle: the machine is shared
		}
	}()
	show("#/metrics", "metrics")
	if n := rows("#charts svg"); n != 6 {
		t.Errorf("metrics page: %d charts, want 6", n)
	}
	// The page polls every 2 s; rates need two polls.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// In one evaluation: the page replaces its charts at every poll.
		h3 := evalString(t, ctx, `document.querySelector('#charts .chart h3')?.textContent ?? ''`)
		if !strings.HasPrefix(h3, "Messages in: 0.00") && rows("#charts polyline") == 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics page shows no traffic: %q", h3)
		}
	}
	shot("metrics")
	stopTraffic()
	<-trafficDone

	// An offset reset from the group page moves kgroup, as the offset
	// table says (Kafka's OffsetFetch).
	show("#/groups/kgroup", "group")
	wantIn("group kgroup offsets", text("#offsets"), "orders")
	shot("group")
	show("", "group",
		chromedp.SetValue(chromedp.CSS(`#reset-group select[name="to"]`), "start"),
		chromedp.Click(chromedp.CSS(`#reset-group button`)))
	wantIn("reset message", text("#flash"), "moved 3 offset(s) of kgroup")
	offs, err := e.freshAdmin(t).FetchOffsets(t.Context(), "kgroup")
	if err != nil {
		t.Fatal(err)
	}
	for p := range int32(3) {
		if o, ok := offs.Lookup("orders", p); !ok || o.At != 0 {
			t.Errorf("after the reset from the page: orders/%d at %+v, want 0", p, o)
		}
	}
}

// evalString evaluates a JavaScript expression that gives a string.
func evalString(t *testing.T, ctx context.Context, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return s
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
