package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release, set when building with
// -ldflags "-X main.version=v1.2.3"; otherwise the module version is used.
var version = ""

// rootCommand returns the command tree.
func rootCommand() *command {
	return &command{
		name: "keyhall",
		help: "Keyhall is an identity provider: people sign in with a security key or an\n" +
			"authenticator app, and other tools receive them over OpenID Connect.\n\n" +
			"Every setting of the configuration file can also be given as an environment\n" +
			"variable: KEYHALL_ and the setting's name in capitals, with _ for each dot\n" +
			"(KEYHALL_PUBLIC_URL, KEYHALL_TLS_CERT_FILE). See keyhall.example.yaml.",
		examples: []string{
			"keyhall serve                          # try it: http://localhost:8080, SQLite in ./keyhall.db",
			"keyhall serve --config /etc/keyhall/keyhall.yaml",
			"keyhall check-config /etc/keyhall/keyhall.yaml",
			"keyhall admin users add anna.mueller --name \"Anna Müller\"",
			"keyhall sync --config /etc/keyhall/keyhall.yaml --dry-run",
		},
		subs: []*command{
			serveCommand(),
			checkConfigCommand(),
			adminCommand(),
			syncCommand(),
			directoryCommand(),
			versionCommand(),
		},
	}
}

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run the identity provider",
		help: "Runs Keyhall until it receives SIGINT or SIGTERM. Without --config it uses the\n" +
			"defaults (http://localhost:8080, SQLite in ./keyhall.db) and KEYHALL_… variables.\n" +
			"Keys not given in the configuration are read from keys.file, which is created\n" +
			"on the first start; every Keyhall process of one installation must share it.",
		examples: []string{
			"keyhall serve",
			"keyhall serve --config /etc/keyhall/keyhall.yaml",
			"keyhall serve --config keyhall.yaml --listen 127.0.0.1:9000",
		},
		setup: func(fs *flag.FlagSet) action {
			path := fs.String("config", "", "read the settings from `FILE` (YAML)")
			listen := fs.String("listen", "", "listen on `ADDR` (host:port), overriding the listen setting")
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				var flags []flagSetting
				if isSet(fs, "listen") {
					flags = append(flags, flagSetting{flag: "--listen", path: "listen", value: *listen})
				}
				cfg, err := loadConfigWith(*path, a.env, flags)
				if err != nil {
					return err
				}
				return runServe(ctx, cfg, a.stdout, a.stderr)
			}
		},
	}
}

func checkConfigCommand() *command {
	return &command{
		name:    "check-config",
		args:    "FILE",
		summary: "check a configuration file without starting",
		help: "Reads FILE and the KEYHALL_… variables as serve would, and reports every\n" +
			"unknown or invalid setting with its line, and warns of settings that cannot work\n" +
			"as meant (a level phrh no key can reach). Exits with 0 if the configuration is\n" +
			"valid and 2 if not. It reads the key file if there is one, but creates nothing\n" +
			"and does not open the database.",
		examples: []string{"keyhall check-config /etc/keyhall/keyhall.yaml"},
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args, "FILE"); err != nil {
					return err
				}
				cfg, err := loadConfig(args[0], a.env)
				if err != nil {
					return err
				}
				if _, _, err := readKeys(cfg); err != nil && !errors.Is(err, errNoKeyFile) {
					return &configError{err: err}
				}
				if err := cfg.checkPlaces(true); err != nil {
					return &configError{err: prefixLines(args[0], err)}
				}
				for _, w := range cfg.Warnings() {
					fmt.Fprintf(a.stderr, "%s: warning: %s\n", args[0], w)
				}
				fmt.Fprintf(a.stdout, "%s: ok\n", args[0])
				return nil
			}
		},
	}
}

func versionCommand() *command {
	return &command{
		name:     "version",
		summary:  "print the version",
		help:     "Prints Keyhall's version, the Go version it was built with, and the platform.",
		examples: []string{"keyhall version"},
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "keyhall %s (%s, %s/%s)\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	}
}

// buildVersion returns the version set at link time, else the module's
// version with the VCS revision if the build recorded one.
func buildVersion() string {
	if version != "" {
		return version
	}
	v := "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v = bi.Main.Version
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev != "" && v == "(devel)" {
		v = fmt.Sprintf("%s %.12s%s", v, rev, dirty)
	}
	return v
}
