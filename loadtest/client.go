package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Client talks to one or more ShelfLife nodes, round robin.
//
// The shoppers' requests go through fasthttp's client, not net/http's: the
// load generator shares this machine's two cores with the node and MariaDB,
// and net/http cost it about twice the CPU per request, CPU a real crowd
// (on its own phones) does not take from the shop. Neither follows
// redirects here: the API answers JSON requests without them, and the
// payer's redirects are read, not followed.
type Client struct {
	targets []string
	next    atomic.Uint64
	fast    *fasthttp.Client
	// http reads the nodes' metrics, whose answer is streamed.
	http *http.Client
}

// requestTimeout bounds a request whose context has no deadline.
const requestTimeout = 60 * time.Second

// NewClient spreads requests over targets (base URLs), with at most conns
// connections to each host; a request waits for a free one.
func NewClient(targets []string, conns int) *Client {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &Client{targets: targets, http: &http.Client{Transport: tr, Timeout: requestTimeout},
		fast: &fasthttp.Client{
			MaxConnsPerHost:          conns,
			MaxConnWaitTimeout:       requestTimeout,
			MaxIdleConnDuration:      time.Minute,
			ReadTimeout:              requestTimeout,
			WriteTimeout:             requestTimeout,
			NoDefaultUserAgentHeader: true,
			DisablePathNormalizing:   true,
		}}
}

// send makes one request (asking for JSON if asJSON) and hands the answer
// to read before it is reused. A request ends at ctx's deadline, or after
// requestTimeout.
func (c *Client) send(ctx context.Context, method, url, token string, asJSON bool, body []byte, read func(*fasthttp.Response) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(method)
	if asJSON {
		req.Header.SetContentType("application/json")
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.SetBodyRaw(body)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(requestTimeout)
	}
	if err := c.fast.DoDeadline(req, resp, deadline); err != nil {
		return err
	}
	return read(resp)
}

// Target picks the next node.
func (c *Client) Target() string {
	return c.targets[c.next.Add(1)%uint64(len(c.targets))]
}

// APIError is a non-2xx answer.
type APIError struct {
	Status int
	Code   string
	Body   string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d %s", e.Status, e.Code) }

// Code names an error for the report: the API's code, or the transport's.
func Code(err error) string {
	if err == nil {
		return ""
	}
	if ae, ok := err.(*APIError); ok {
		if ae.Code != "" {
			return ae.Code
		}
		return fmt.Sprintf("http_%d", ae.Status)
	}
	if strings.Contains(err.Error(), "timeout") || strings.Contains(err.Error(), "deadline") {
		return "timeout"
	}
	return "transport"
}

// Do sends a JSON request to base+path and decodes a JSON answer into out.
func (c *Client) Do(ctx context.Context, method, url, token string, body, out any) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	return c.send(ctx, method, url, token, true, b, func(resp *fasthttp.Response) error {
		raw := resp.Body()
		if status := resp.StatusCode(); status >= 300 {
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			json.Unmarshal(raw, &e)
			return &APIError{Status: status, Code: e.Error.Code, Body: string(raw)}
		}
		if out != nil {
			return json.Unmarshal(raw, out)
		}
		return nil
	})
}

// PressButton plays the payer on the fake Kakao Pay page and returns the
// URL it redirects to.
func (c *Client) PressButton(ctx context.Context, redirectURL, button string) (string, error) {
	var loc string
	err := c.send(ctx, http.MethodPost, redirectURL+"/"+button, "", false, nil, func(resp *fasthttp.Response) error {
		if status := resp.StatusCode(); status != http.StatusFound {
			return &APIError{Status: status}
		}
		loc = string(resp.Header.Peek("Location"))
		return nil
	})
	return loc, err
}
