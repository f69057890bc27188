package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Client talks to one or more ShelfLife nodes, round robin.
type Client struct {
	targets []string
	next    atomic.Uint64
	http    *http.Client
	noRedir *http.Client
}

// NewClient spreads requests over targets (base URLs).
func NewClient(targets []string, conns int) *Client {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return &Client{targets: targets, http: &http.Client{Transport: tr, Timeout: 60 * time.Second},
		noRedir: &http.Client{Transport: tr, Timeout: 60 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
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
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal(raw, &e)
		return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Body: string(raw)}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// PressButton plays the payer on the fake Kakao Pay page and returns the
// URL it redirects to.
func (c *Client) PressButton(ctx context.Context, redirectURL, button string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, redirectURL+"/"+button, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.noRedir.Do(req)
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		return "", &APIError{Status: resp.StatusCode}
	}
	return resp.Header.Get("Location"), nil
}
