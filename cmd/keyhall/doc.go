// Command keyhall is Keyhall's one binary: the identity provider (serve),
// its configuration check (check-config), the administrator's commands for
// local people and groups (admin users …, admin groups …), enrollment
// (admin invite, admin reset, admin revoke-credential), OIDC client
// secrets (admin oidc-secret), directory sync (sync, directory check) and
// version. Run "keyhall --help", or --help after any command.
//
// # Commands
//
// main only sets up signal handling and calls run with the arguments, the
// standard streams and the environment, so tests run every command
// in-process. run walks the command tree (cli.go, commands.go, admin*.go),
// built on package flag: a group prints its subcommands, a leaf parses its
// flags (before or after its arguments), checks every text flag
// (textFlags: --name, --reason, --email, --query) with authn.CheckText, and
// runs. Bad usage and an invalid
// configuration exit with status 2, a failure with 1; os.Exit is called
// only in main.
//
// # Configuration
//
// loadConfig builds a Config in one place: defaults, then the YAML file,
// then KEYHALL_… environment variables (named from the yaml tags by
// reflection), then flags such as serve --listen. The YAML is read into a
// syntax tree and walked against Config's type, so an unknown key, a wrong
// type and an invalid value are all reported together, each with the file
// and line (or the variable) where it was set. Config.Validate checks the
// values without changing them. Every text value must be valid UTF-8, at
// most 64 KiB, without control characters but line breaks and tabs; a line
// of the file that is not UTF-8 is named with its setting, as the YAML
// parser would read U+FFFD there. keyhall.example.yaml at the root of the
// repository shows every setting; a test keeps it in step with Config.
//
// # Keys
//
// The keys every process of an installation shares (cookies, encryption at
// rest, OIDC) never come from the database: loadKeys takes each from the
// configuration or, failing that, from the key file, which the first serve
// generates with mode 0600. The file is linked into place atomically, so of
// several processes starting at once exactly one writes it and the others
// read it.
//
// # Wiring
//
// serve turns the configuration into web.Config (wire.go): the sign-in
// settings, forward-auth rules, the OIDC provider's clients from
// oidc.clients (each secret's SHA-256 decoded; keys.oidc_key encrypts
// tokens, keys.encryption_key seals the signing key) and the enrollment
// settings with the mail that tells people of changes to their factors.
// Validate runs web.OIDCConfig.Validate on the converted clients too, so
// check-config refuses what the provider would. At shutdown serve waits,
// within shutdown_timeout, for requests and then for back-channel logout
// notices; once an hour it removes long-ended sessions and expired OIDC
// state.
//
// site.* (config_validate_site.go) becomes web.Config.Site, with the logo
// file read and checked (web.CheckLogo) and the colour's contrast against
// white checked (web.CheckPrimaryColor) by Validate, so check-config and
// serve refuse the same; site.name is also the app entry's issuer, the
// service named in letters and mail (enroll.Sender.Service) and the
// sender's name where mail.from has none. version (commands.go) prints
// main.version, the vcs.revision and vcs.modified Go recorded, and the Go
// version.
//
// # Enrollment
//
// The enrollment commands build the enroll.Service exactly as serve does
// (wire_enroll.go: enrollService from the configuration and the keys, the
// key policy from policy.groups, the mailer from mail.*) and audit each
// change with the actor "cli:<os user>". A letter is checked before the
// invitation is issued; a mail that fails only warns. invite, reset,
// revoke-credential and users disable only parse, call the IT desk
// (enroll/desk, built by deskConfig in wire_desk.go from admin.roles and
// policy.groups.*.protected/reset_approval, as serve will) as desk.CLI,
// and print: the rules (reason, identity check, dual control, notices,
// tools told, audit) are the desk's, the same as the /admin console's.
//
// # Backup and restore
//
// admin backup (admin_backup.go) calls sqlstore's Backup on the running
// database and audits backup.create; admin restore checks the backup
// (sqlstore.InspectBackup), the key file's fingerprint against the one the
// backup records (readKeys: it never makes a key file), and, inside
// sqlstore.Restore, the copy's audit chain (verifyAuditTo), to which it
// appends backup.restore before the copy is put in place. On PostgreSQL
// both only point to pg_dump and pg_restore (docs/backup.md).
//
// # Directory sync
//
// directory: (or directories:) becomes ldapsync.Config
// (config_directory.go): the bind password is read from its file at load,
// and check-config warns of a lockout threshold Keyhall's own limit does
// not stay below. keyhall sync and keyhall directory check
// (directory_cmd.go, directory_check.go) and serve's sync loop
// (directory_serve.go: every interval, leavers' tokens ended at the tools
// through web.Server.OIDCUserSignedOut, metrics keyhall_directory_sync_*)
// reach ldapsync through the package variables newReader, newSyncer,
// newVerifier, directoryCheck, ldapWithDefaults, validateLDAPConfig and
// syncBusy, which tests replace with a directory of their own.
package main
