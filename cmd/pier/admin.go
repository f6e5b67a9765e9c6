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

// adminConfig is the `admin` section of the configuration: the namespace
// that the Socket.IO Admin UI (@socket.io/admin-ui) connects to, and the
// UI itself served by Pier.
type adminConfig struct {
	Enabled bool
	// Path is the admin namespace. Default "/admin".
	Path string
	// Auth is the dashboard's login; an empty PasswordHash leaves the
	// dashboard open to anyone who reaches the server (logged as a warning).
	Auth adminAuth
	// Readonly refuses the dashboard's commands (join, leave, disconnect).
	Readonly bool
	// Production sends server statistics only, no sockets nor events.
	Production bool
	// ServerID names this server on the Servers page. Default the host name.
	ServerID string
	// UIPath is the URL path serving the dashboard, such as "/admin-ui";
	// "" serves none (the hosted https://admin.socket.io then needs CORS).
	UIPath string
	// UIDir is the dashboard's folder (ui/dist of the npm package).
	// Default: the copy `make run` installs under testdata/admin.
	UIDir string
}

type adminAuth struct {
	Username     string
	PasswordHash string // bcrypt
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
