package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/keyhall/keyhall/authn"
	"github.com/keyhall/keyhall/web"
)

// toolsLogoutWait bounds how long a command waits for the tools to be told.
const toolsLogoutWait = 30 * time.Second

// tellTools ends the OIDC tokens of a person whose sessions an administrator
// ended from the command line (disable, reset) and sends a back-channel
// logout to every tool that holds some, as the serving processes do when a
// person signs out: the command is the only process that knows. It does
// nothing when no OIDC client is configured.
func tellTools(ctx context.Context, cfg Config, st authn.Store, userID string, stderr io.Writer, logger *slog.Logger) error {
	return tellToolsAll(ctx, cfg, st, []string{userID}, stderr, logger)
}

// tellToolsAll is tellTools for several people at once (the leavers a
// sync disabled): one provider, every person's tokens ended, and one wait
// for all the notices.
func tellToolsAll(ctx context.Context, cfg Config, st authn.Store, userIDs []string, stderr io.Writer, logger *slog.Logger) error {
	if len(cfg.OIDC.Clients) == 0 || len(userIDs) == 0 {
		return nil
	}
	keys, err := loadKeys(cfg, logger)
	if err != nil {
		return err
	}
	publicURL, err := cfg.parsedPublicURL()
	if err != nil {
		return err
	}
	wc, err := webConfig(cfg, keys, publicURL, nil, logger)
	if err != nil {
		return err
	}
	srv, err := web.New(wc)
	if err != nil {
		return err
	}
	srv.SetStore(st, nil) // an error here concerns sign-in pages only, not OIDC
	var errs []error
	for _, id := range userIDs {
		if err := srv.OIDCUserSignedOut(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("end the tokens of person %s at the tools: %w", id, err))
		}
	}
	wctx, cancel := context.WithTimeout(ctx, toolsLogoutWait)
	defer cancel()
	if err := srv.WaitOIDCLogouts(wctx); err != nil {
		fmt.Fprintf(stderr, "keyhall: warning: not every tool confirmed the logout within %s: %v\n", toolsLogoutWait, err)
	}
	return errors.Join(errs...)
}
