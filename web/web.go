// Package web holds the pages the node serves: the shopper storefront at /
// and the admin dashboard at /admin. They are plain HTML, CSS and
// JavaScript modules with no build step, embedded in the binary.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Files is the page tree: index.html, admin.html and their assets.
func Files() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		// The embed pattern guarantees the folder exists.
		panic(err)
	}
	return sub
}
