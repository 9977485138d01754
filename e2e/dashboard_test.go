package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gridswarm/gridswarm/scheduler"
)

// chromium finds Debian's Chromium (.ci/setup.d/20-chromium.sh installs
// it). The test is skipped only where it cannot be installed: not root.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("chromium is not installed and this user cannot install it: run .ci/setup.d/20-chromium.sh as root")
	}
	t.Fatal("chromium is not installed: run .ci/setup (it runs .ci/setup.d/20-chromium.sh)")
	return ""
}

// browser starts a headless Chromium and returns a tab's context.
func browser(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // root in CI; the pages are our own
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(412, 915), // a phone-sized screen
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}

// loginURL runs `gridswarm dashboard --url` against d.
func loginURL(t *testing.T, d *daemon) string {
	t.Helper()
	r := gs(t, d.dir, "dashboard", "--url")
	if r.code != 0 {
		t.Fatalf("dashboard --url: exit %d: %s", r.code, r.err)
	}
	u := strings.TrimSpace(r.out)
	if !strings.HasPrefix(u, d.ep.HTTP+"/login?t=") {
		t.Fatalf("dashboard --url printed %q, want %s/login?t=…", u, d.ep.HTTP)
	}
	return u
}

// evalUntil evaluates expr in the page until ok accepts its result.
func evalUntil[T any](t *testing.T, tab context.Context, timeout time.Duration, expr string, ok func(T) bool) T {
	t.Helper()
	var v T
	eventually(t, timeout, func() (bool, string) {
		var err error
		v, err = chromedp.Run(tab, chromedp.Evaluate[T](expr))
		return err == nil && ok(v), fmt.Sprintf("%s = %v (%v)", expr, v, err)
	})
	return v
}

// A person logs in through `gridswarm dashboard --url`, sees the other
// peer, opens a running job and watches its curves gain a point as each
// round finishes, then downloads the finished job's model. Requests
// without the session cookie, from a foreign Origin or to a foreign Host
// are refused.
func TestDashboardInBrowser(t *testing.T) {
	skipShort(t)
	chromium(t)
	ds := swarmOf(t, 2)
	coord, worker := ds[0], ds[1]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tab := browser(t, ctx)

	// Log in: the token leaves the address bar at once.
	login := loginURL(t, coord)
	if err := chromedp.Do(tab, chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("#nav"))); err != nil {
		t.Fatalf("open %s: %v", login, err)
	}
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if loc != coord.ep.HTTP+"/ui/" {
		t.Errorf("after login the browser is at %q, want %s/ui/ (no token in the URL)", loc, coord.ep.HTTP)
	}
	cookies, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	var session *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "gridswarm_session" {
			session = c
		}
	}
	if session == nil || !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie %+v: want HttpOnly and SameSite=Strict", session)
	}

	// Swarm: the worker is listed with its RTT.
	sel := fmt.Sprintf(`#peers-table tr[data-peer=%q]`, worker.ep.PeerID)
	evalUntil(t, tab, 30*time.Second, fmt.Sprintf(`(() => { const r = document.querySelector(%q); return r ? r.innerText : "" })()`, sel),
		func(s string) bool { return strings.Contains(s, "ms") && strings.Contains(s, "builtin") })

	// Settlement is off on this swarm: the wallet and the worker page say so.
	goTo(t, tab, "#/wallet")
	evalUntil(t, tab, 20*time.Second, `document.querySelectorAll("#settle-missing").length`, func(n int) bool { return n == 1 })
	goTo(t, tab, "#/worker")
	evalUntil(t, tab, 20*time.Second, textOf("#worker-earned"), func(s string) bool { return s == "settlement is not available yet" })

	// A running job: its accuracy curve gains points while the page stays open.
	cid := importMNIST(t, coord)
	const rounds = 5
	id := submit(t, coord, jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", fmt.Sprintf("rounds: %d", rounds), 1)
		return strings.Replace(s, "inner_steps: 200", "inner_steps: 60", 1)
	}))
	if err := chromedp.Do(tab, chromedp.Navigate(coord.ep.HTTP+"/ui/#/job/"+id), chromedp.WaitVisible(chromedp.CSS("#job-status"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.stillThisPage = true`)); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	eventually(t, 3*time.Minute, func() (bool, string) {
		n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#acc-chart circle.pt").length`))
		status, err2 := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("job-status").textContent`))
		if err == nil {
			err = err2
		}
		seen[n] = true
		return err == nil && n == rounds && status == scheduler.StatusDone, fmt.Sprintf("%d points, status %q (%v)", n, status, err)
	})
	if same, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.stillThisPage === true`)); err != nil || !same {
		t.Fatalf("the job page was reloaded (%v): the curve must grow live", err)
	}
	t.Logf("point counts seen on the open job page: %v", seen)
	grew := 0
	for n := 1; n < rounds; n++ {
		if seen[n] {
			grew++
		}
	}
	if grew == 0 {
		t.Errorf("the curve jumped straight to %d points (saw %v); want it to grow round by round", rounds, seen)
	}
	if lossPts, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#loss-chart circle.pt.loss").length`)); err != nil || lossPts != rounds {
		t.Errorf("loss chart has %d training-loss points (%v), want %d", lossPts, err, rounds)
	}
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#job-payment").length`)); err != nil || n != 0 {
		t.Errorf("an unpaid job's page has %d payment cards (%v), want none", n, err)
	}

	// The finished job's model link downloads its final model.
	j := showJob(t, coord, id)
	href := evalUntil(t, tab, 20*time.Second, `(() => { const a = document.getElementById("model-link"); return a ? a.getAttribute("href") : "" })()`,
		func(s string) bool { return s != "" })
	got, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.status + " " + r.headers.get("X-Gridswarm-CID"))`, href),
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := "200 " + j.FinalModel; got != want {
		t.Errorf("GET %s from the page: %q, want %q", href, got, want)
	}

	// Spot checks: one row per checked tasklet in the job's state.
	checks := 0
	for _, rd := range j.Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Check != nil {
				checks++
			}
		}
	}
	evalUntil(t, tab, 20*time.Second, `document.querySelectorAll("#spot-table tbody tr").length`, func(n int) bool { return n == checks })

	// The login link was single use.
	if err := chromedp.Do(tab, chromedp.Navigate(login)); err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "already used") {
		t.Errorf("a used login link answered %q", body)
	}

	refusals(t, coord, session.Value)
}

// refusals sends JSON-RPC requests the way another page, a rebinding
// attacker or a cookie-less client would, next to one that is allowed.
func refusals(t *testing.T, d *daemon, session string) {
	t.Helper()
	u, err := url.Parse(d.ep.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	self := d.ep.HTTP
	tests := []struct {
		name, host, origin string
		cookie             bool
		want               int
	}{
		{"own page with the cookie", "", self, true, http.StatusOK},
		{"no session cookie", "", self, false, http.StatusUnauthorized},
		{"foreign Origin", "", "http://evil.example", true, http.StatusForbidden},
		{"foreign Host", "evil.example:" + u.Port(), "http://evil.example:" + u.Port(), true, http.StatusForbidden},
	}
	for _, tt := range tests {
		for _, path := range []string{"/", "/metrics"} {
			method, body := http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"node_status","params":[]}`
			if path == "/metrics" {
				method, body = http.MethodGet, ""
			}
			req, err := http.NewRequest(method, d.ep.HTTP+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Origin", tt.origin)
			if tt.host != "" {
				req.Host = tt.host
			}
			if tt.cookie {
				req.AddCookie(&http.Cookie{Name: "gridswarm_session", Value: session})
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.want {
				t.Errorf("%s %s, %s: status %d, want %d", method, path, tt.name, res.StatusCode, tt.want)
			}
		}
	}
}
