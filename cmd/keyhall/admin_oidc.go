package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"

	"github.com/keyhall/keyhall/web"
)

func oidcSecretCommand() *command {
	return &command{
		name:    "oidc-secret",
		summary: "make a secret for an OIDC client (tool)",
		help: "Makes a new client secret for a tool that signs people in over OpenID Connect:\n" +
			"256 random bits. Prints the secret, which is shown this once, and the line\n" +
			"\"secret_sha256: …\" for the client in oidc.clients of the configuration: Keyhall\n" +
			"keeps only the secret's SHA-256. Give the secret to the tool's administrator\n" +
			"over a safe channel. Needs no configuration and no database; a native app\n" +
			"(native: true) has no secret.",
		examples: []string{
			"keyhall admin oidc-secret",
			"keyhall admin oidc-secret --json",
		},
		setup: func(fs *flag.FlagSet) action {
			asJSON := jsonFlag(fs)
			return func(ctx context.Context, a *app, args []string) error {
				if err := wantArgs(args); err != nil {
					return err
				}
				secret, sum := web.NewOIDCClientSecret()
				return printOIDCSecret(a.stdout, secret, hex.EncodeToString(sum[:]), *asJSON)
			}
		},
	}
}

// oidcSecretJSON is the stable JSON form of "admin oidc-secret".
type oidcSecretJSON struct {
	Secret       string `json:"secret"`
	SecretSHA256 string `json:"secret_sha256"`
}

// printOIDCSecret writes a new client secret and the configuration line
// that registers its hash.
func printOIDCSecret(w io.Writer, secret, sumHex string, asJSON bool) error {
	if asJSON {
		return writeJSON(w, oidcSecretJSON{Secret: secret, SecretSHA256: sumHex})
	}
	_, err := fmt.Fprintf(w, "Client secret (shown only this once; give it to the tool, Keyhall keeps only its hash):\n\n"+
		"    %s\n\n"+
		"Put this line into the client's entry under oidc.clients in the configuration:\n\n"+
		"    secret_sha256: %s\n", secret, sumHex)
	if err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	return nil
}
