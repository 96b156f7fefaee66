package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
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
			"as meant (a level phrh no key can reach). With citizens on, or when the\n" +
			"citizens' group has members, it names the tools citizens may use (those whose\n" +
			"groups name citizens.group), and warns when the group and the people who\n" +
			"registered themselves disagree. Exits with 0 if the configuration is valid and\n" +
			"2 if not. It reads the key file and the database if there are some, but\n" +
			"creates nothing and changes nothing.",
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
				warnings := cfg.Warnings()
				dbCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				count, _, err := countCitizensGroup(dbCtx, a, cfg)
				cancel()
				if err != nil {
					warnings = append(warnings, fmt.Sprintf("storage: the database was not read, so the citizens' group was not checked: %v", err))
				}
				warnings = append(warnings, cfg.citizensGroupWarnings(count)...)
				for _, w := range warnings {
					fmt.Fprintf(a.stderr, "%s: warning: %s\n", args[0], w)
				}
				for _, n := range cfg.Notes(count) {
					fmt.Fprintf(a.stdout, "%s: %s\n", args[0], n)
				}
				fmt.Fprintf(a.stdout, "%s: ok\n", args[0])
				return nil
			}
		},
	}
}

func versionCommand() *command {
	return &command{
		name:    "version",
		summary: "print the version, the commit and the Go version",
		help: "Prints Keyhall's version (set at build time with -ldflags \"-X main.version=v1.2.3\",\n" +
			"else the module's), the commit it was built from (\"modified\" when the working\n" +
			"tree had uncommitted changes) and the Go version and platform. See\n" +
			"docs/branding.md for the reproducible build.",
		examples: []string{"keyhall version"},
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				b := readBuild()
				fmt.Fprintf(a.stdout, "keyhall %s\ncommit: %s\ngo:     %s %s/%s\n", b.version, b.commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
				return nil
			}
		},
	}
}

// build is what the binary knows of how it was built.
type build struct {
	version  string // main.version, else the module's version, else "(devel)"
	revision string // vcs.revision: the commit, "" when not recorded
	modified bool   // vcs.modified: built with uncommitted changes
}

// commit is the revision as version prints it.
func (b build) commit() string {
	switch {
	case b.revision == "":
		return "unknown (built without version control information: go build -buildvcs=false, or outside a git checkout)"
	case b.modified:
		return b.revision + " (modified: built from a working tree with uncommitted changes)"
	}
	return b.revision
}

// readBuild reads the version set at link time and the build information
// Go records in the binary (runtime/debug.ReadBuildInfo).
func readBuild() build {
	b := build{version: version}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.revision = s.Value
			case "vcs.modified":
				b.modified = s.Value == "true"
			}
		}
	}
	if b.version == "" && ok && bi.Main.Version != "" {
		b.version = bi.Main.Version
	}
	if b.version == "" {
		b.version = "(devel)"
	}
	return b
}
