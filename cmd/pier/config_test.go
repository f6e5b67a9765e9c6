package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pier.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigPrecedence(t *testing.T) {
	file := "pingInterval: 1500\npingTimeout: 3s\ncors:\n  origin: [http://a.example]\n  credentials: true\nredis:\n  key: fromfile\n"
	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(c *Config) string
	}{
		{"defaults", nil, nil, func(c *Config) string {
			if c.PingInterval.D() != 1500*time.Millisecond || c.Addr != ":1337" || c.UpgradeTimeout.D() != 10*time.Second {
				return "file or defaults not applied"
			}
			return ""
		}},
		{"env over file", nil, []string{"PIER_PING_TIMEOUT=1234", "PIER_CORS_ORIGIN=http://b.example,http://c.example"}, func(c *Config) string {
			if c.PingTimeout.D() != 1234*time.Millisecond {
				return "PIER_PING_TIMEOUT not applied"
			}
			if strings.Join(c.CORS.Origin, " ") != "http://b.example http://c.example" || !c.CORS.Credentials {
				return "PIER_CORS_ORIGIN not applied as a list"
			}
			return ""
		}},
		{"flag over env", []string{"-pingTimeout", "5s", "-redis.key=flag"}, []string{"PIER_PING_TIMEOUT=1234", "PIER_REDIS_KEY=env"}, func(c *Config) string {
			if c.PingTimeout.D() != 5*time.Second || c.Redis.Key != "flag" {
				return "flags did not win"
			}
			return ""
		}},
		{"nested env", nil, []string{"PIER_SESSION_COOKIE_MAX_AGE=60000", "PIER_ADMIN_AUTH_USERNAME=u", "PIER_ADMIN_AUTH_PASSWORD_HASH=h", "PIER_ALLOW_EIO3=false"}, func(c *Config) string {
			if c.Session.Cookie.MaxAge.D() != time.Minute || c.Admin.Auth.Username != "u" || c.AllowEIO3 {
				return "nested environment keys not applied"
			}
			return ""
		}},
		{"old flag names and bool flags", []string{"-log-level", "debug", "-metrics=false", "-cors.credentials=false"}, nil, func(c *Config) string {
			if c.LogLevel != "debug" || c.Metrics || c.CORS.Credentials {
				return "aliases or bool flags not applied"
			}
			return ""
		}},
		{"NODE_ENV", nil, []string{"NODE_ENV=production", "PIER_SESSION_SECRET=x"}, func(c *Config) string {
			if !c.Production() {
				return "NODE_ENV=production not applied"
			}
			return ""
		}},
	}
	p := writeConfig(t, file)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := loadConfig("pier", append([]string{"-config", p}, tc.args...), tc.env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(&o.cfg); msg != "" {
				t.Errorf("%s: %+v", msg, o.cfg)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		args []string
		env  []string
		want string // in the error
	}{
		{"unknown key", "addr: :1\ncors:\n  origins: [http://a]\n", nil, nil, "pier.yaml:3: unknown key cors.origins"},
		{"case hint", "pinginterval: 10\n", nil, nil, "did you mean pingInterval"},
		{"bad duration", "addr: :1\npingTimeout: soon\n", nil, nil, "pier.yaml:2: key pingTimeout: invalid duration"},
		{"bad bool", "\n\nallowUpgrades: maybe\n", nil, nil, "pier.yaml:3: key allowUpgrades: invalid boolean"},
		{"bad int", "maxHttpBufferSize: 1e6x\n", nil, nil, "pier.yaml:1: key maxHttpBufferSize: invalid integer"},
		{"mapping for a value", "addr:\n  host: x\n", nil, nil, "pier.yaml:1: key addr: a mapping is not allowed"},
		{"value for a mapping", "cors: yes\n", nil, nil, "pier.yaml:1: key cors must be a mapping"},
		{"twice", "addr: :1\naddr: :2\n", nil, nil, "pier.yaml:2: key addr is set twice"},
		{"bad enum", "x: 1\n", nil, nil, "unknown key x"},
		{"validation names the line", "addr: :1\nlogFormat: xml\n", nil, nil, "pier.yaml:2: key logFormat: \"xml\" is not one of text, json"},
		{"bad origin", "cors:\n  origin: [http://a.example/]\n", nil, nil, "pier.yaml:2: key cors.origin: invalid origin"},
		{"bad env", "", nil, []string{"PIER_PING_TIMEOUT=x"}, "PIER_PING_TIMEOUT: invalid duration"},
		{"unknown env", "", nil, []string{"PIER_PING_TIMOUT=1"}, "PIER_PING_TIMOUT: unknown variable"},
		{"bad flag", "", []string{"-drain", "x"}, nil, "-drain: invalid duration"},
		{"validation names the env", "", nil, []string{"PIER_TRANSPORTS=carrier-pigeon"}, "PIER_TRANSPORTS: key transports"},
		{"production needs origins", "environment: production\nsession: {secret: x}\n", nil, nil, "production needs an origin policy"},
		{"production needs a secret", "", nil, []string{"NODE_ENV=production", "PIER_CORS_ORIGIN=http://a.example"}, "production needs session.secret"},
		{"stray argument", "", []string{"extra"}, nil, `unexpected argument "extra"`},
		{"bad yaml", "addr: [\n", nil, nil, "pier.yaml: yaml:"},
		{"log levels", "logLevel: info,engin=debug\n", nil, nil, `pier.yaml:1: key logLevel: unknown component "engin"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.file)
			_, err := loadConfig("pier", append([]string{"-config", p}, tc.args...), tc.env, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestConfigRecoveryPresenceEnables(t *testing.T) {
	p := writeConfig(t, "connectionStateRecovery:\n  maxDisconnectionDuration: 30s\n")
	o, err := loadConfig("pier", []string{"-config", p}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := o.cfg.ConnectionStateRecovery; !r.Enabled || r.MaxDisconnectionDuration.D() != 30*time.Second {
		t.Fatalf("recovery %+v", r)
	}
	if o, _ := loadConfig("pier", nil, nil, nil); o.cfg.ConnectionStateRecovery.Enabled {
		t.Fatal("recovery on by default")
	}
}

func TestConfigCheckMasksSecrets(t *testing.T) {
	p := writeConfig(t, "session:\n  secret: hunter2\nredis:\n  url: redis://:pw123@127.0.0.1:1/0\nadmin:\n  auth: {username: a, passwordHash: $2b$hash}\n")
	var out, errb strings.Builder
	if err := run([]string{"config", "check", p}, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "pw123", "$2b$hash"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("secret %q printed:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "secret: '********'") || !strings.Contains(out.String(), "127.0.0.1:1") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestEnvNames(t *testing.T) {
	for key, want := range map[string]string{
		"pingTimeout": "PIER_PING_TIMEOUT", "cors.origin": "PIER_CORS_ORIGIN", "maxHttpBufferSize": "PIER_MAX_HTTP_BUFFER_SIZE",
		"allowEIO3": "PIER_ALLOW_EIO3", "session.cookie.maxAge": "PIER_SESSION_COOKIE_MAX_AGE", "admin.uiPath": "PIER_ADMIN_UI_PATH",
		"sailsJs": "PIER_SAILS_JS", "redis.url": "PIER_REDIS_URL",
	} {
		if got := envName(key); got != want {
			t.Errorf("envName(%s) = %s, want %s", key, got, want)
		}
	}
}

// TestExampleConfigAndREADME: pier.example.yaml sets every key to its
// default, and the README's table lists every key with its variable.
func TestExampleConfigAndREADME(t *testing.T) {
	o, err := loadConfig("pier", []string{"-config", "../../pier.example.yaml"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ex, def := o.cfg, defaultConfig()
	exFields, defFields := fields(&ex), fields(&def)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, _ := os.ReadFile("../../pier.example.yaml")
	for i, f := range exFields {
		got, want := fmt.Sprint(f.v.Interface()), fmt.Sprint(defFields[i].v.Interface())
		if got != want && !(got == "[]" && want == "[]") {
			t.Errorf("pier.example.yaml: %s is %s, the default is %s", f.key, got, want)
		}
		last := f.key[strings.LastIndex(f.key, ".")+1:]
		if !strings.Contains(string(example), last+":") {
			t.Errorf("pier.example.yaml lacks %s", f.key)
		}
		if !strings.Contains(string(readme), "| `"+f.key+"` | `"+f.env+"` |") {
			t.Errorf("README's configuration table lacks %s (%s)", f.key, f.env)
		}
	}
}
