package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// Files returns the dashboard's files, rooted at its index.html.
func Files() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic("dashboard: embedded static folder is missing: " + err.Error()) // a build defect, caught by the tests
	}
	return sub
}

// Handler serves the files; mount it with the prefix stripped.
func Handler() http.Handler { return http.FileServerFS(Files()) }
