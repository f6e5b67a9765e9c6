package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestOptionsMapping: the configuration reaches the libraries' options
// under Node's and Sails' meanings.
func TestOptionsMapping(t *testing.T) {
	c := defaultConfig()
	log := slog.New(slog.DiscardHandler)
	eo := engineOptions(&c, log, nil)
	if eo.CORS != nil || eo.DisableUpgrades || eo.PingInterval != 25*time.Second || eo.Path != "/socket.io/" {
		t.Errorf("defaults: %+v", eo)
	}
	c.CORS.Origin = []string{"https://a.example"}
	c.CORS.Credentials = true
	c.AllowUpgrades = false
	c.AllowEIO3 = false
	c.SendStatusCode, c.SendResponseHeaders, c.Grant3rdPartyCookie = false, false, false
	c.Session.Cookie.SameSite = "Strict"
	c.ConnectionStateRecovery.Enabled = true
	eo = engineOptions(&c, log, nil)
	if eo.CORS == nil || !eo.CORS.Credentials || eo.CORS.Origin[0] != "https://a.example" || !eo.DisableUpgrades {
		t.Errorf("engine options: %+v", eo)
	}
	if eo.AllowEIO3 == nil || *eo.AllowEIO3 {
		t.Error("allowEIO3 false does not reach engineio.Options.AllowEIO3")
	}
	if err := eo.AllowRequest(httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil)); err != nil {
		t.Errorf("EIO=4 refused: %v", err)
	}
	so := sailsOptions(&c)
	if !so.OmitStatusCode || !so.OmitHeaders || !so.DisableGetCookie {
		t.Errorf("sails options: %+v", so)
	}
	if sess := sessionOptions(&c, log); sess.Cookie.SameSite != http.SameSiteStrictMode || sess.CookieName != "sails.sid" || sess.Cookie.MaxAge != 24*time.Hour {
		t.Errorf("session options: %+v", sess)
	}
	if o := socketOptions(&c, eo, nil, nil, log); o.ConnectionStateRecovery == nil || o.ConnectionStateRecovery.RunMiddlewares ||
		o.ConnectionStateRecovery.MaxDisconnectionDuration != 2*time.Minute || o.ConnectTimeout != 45*time.Second {
		t.Errorf("socket options: %+v", o)
	}
}
