package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/socketio"
)

// adminConfig is what mountAdmin needs: the `admin` section of the
// configuration, and what the rest of it says.
type adminConfig struct {
	AdminConfig
	// Production sends server statistics only, no sockets nor events.
	Production bool
	// ServerID names this server on the Servers page. Default the host name.
	ServerID string
	// UIDir is the dashboard's folder (ui/dist of the npm package).
	// Default: the copy `make run` installs under testdata/admin.
	UIDir string
}

// mountAdmin instruments io for the admin dashboard and, when cfg.UIPath
// is set, serves the dashboard there on mux. It returns nil when the admin
// is disabled; else the caller shuts the returned Admin down on exit.
func mountAdmin(mux *http.ServeMux, io *socketio.Server, cfg adminConfig, log *slog.Logger) (*admin.Admin, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	opts := &admin.Options{
		Namespace:  cfg.Path,
		ReadOnly:   cfg.Readonly,
		Production: cfg.Production,
		ServerID:   cfg.ServerID,
		Logger:     log,
	}
	if cfg.Auth.PasswordHash != "" {
		opts.Auth = &admin.BasicAuth{Username: cfg.Auth.Username, PasswordHash: cfg.Auth.PasswordHash}
	} else {
		opts.NoAuth = true
		log.Warn("pier: the admin dashboard has no login (admin.auth.passwordHash is empty)")
	}
	var ui http.Handler
	if cfg.UIPath != "" {
		if !strings.HasPrefix(cfg.UIPath, "/") || cfg.UIPath == "/" {
			return nil, fmt.Errorf("admin.uiPath %q: want a path below / such as /admin-ui", cfg.UIPath)
		}
		dir, err := findAsset(cfg.UIDir, adminUIAsset)
		if err != nil {
			return nil, fmt.Errorf("admin UI: %w", err)
		}
		fsys := os.DirFS(dir)
		if err := admin.CheckUI(fsys); err != nil {
			return nil, fmt.Errorf("admin UI in %s: %w", dir, err)
		}
		ui = admin.UIHandler(fsys)
	}
	a, err := admin.Instrument(io, opts)
	if err != nil {
		return nil, err
	}
	if ui != nil {
		p := strings.TrimSuffix(cfg.UIPath, "/")
		mux.Handle(p, http.StripPrefix(p, ui))
		mux.Handle(p+"/", http.StripPrefix(p, ui))
		log.Info("pier: admin dashboard", "path", p+"/", "namespace", a.Namespace().Name())
	}
	return a, nil
}
