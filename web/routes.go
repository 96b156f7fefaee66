package web

import (
	"net/http"

	"github.com/keyhall/keyhall/authn"
)

// routes registers every route; it reads as the server's table of contents.
func (s *Server) routes(mux *http.ServeMux) {
	// Operations.
	s.handle(mux, "GET /healthz", s.healthz)
	s.handle(mux, "GET /readyz", s.readyz)
	// /metrics is not here but on a listener of its own (MetricsHandler).

	// Sign-in: username first, then the strongest factor, alternatives one
	// click away, the password only after a possession factor.
	s.handle(mux, "GET /login", s.loginPage)
	s.handle(mux, "POST /login", s.loginSubmit)
	s.handle(mux, "POST /login/switch", s.switchFactor)
	s.handle(mux, "GET /login/key", s.stepPage(authn.StepKey))
	s.handle(mux, "POST /login/key/begin", s.keyBegin)
	s.handle(mux, "POST /login/key/finish", s.keyFinish)
	s.handle(mux, "POST /login/passkey/begin", s.passkeyBegin)
	s.handle(mux, "POST /login/passkey/finish", s.keyFinish)
	s.handle(mux, "GET /login/totp", s.stepPage(authn.StepTOTP))
	s.handle(mux, "POST /login/totp", s.codeStep(authn.StepTOTP, "code"))
	s.handle(mux, "GET /login/recovery", s.stepPage(authn.StepRecovery))
	s.handle(mux, "POST /login/recovery", s.codeStep(authn.StepRecovery, "code"))
	s.handle(mux, "GET /login/password", s.stepPage(authn.StepPassword))
	s.handle(mux, "POST /login/password", s.codeStep(authn.StepPassword, "password"))

	// The signed-in person: her account, signing out.
	s.handle(mux, "GET /account", s.account)
	s.handle(mux, "POST /logout", s.logout)
	s.handle(mux, "POST /logout/everywhere", s.logoutEverywhere)
	s.handle(mux, "POST /account/sessions/revoke", s.accountRevokeSession)
	s.handle(mux, "GET /api/session", s.sessionInfo)
	// Her data: the download, and deleting her account (account_data.go).
	s.handle(mux, "GET /account/data.json", s.accountDataJSON)
	s.handle(mux, "GET /account/delete", s.accountDeletePage)
	s.handle(mux, "POST /account/delete", s.accountDelete)
	s.handle(mux, "GET /account/deleted", s.accountDeleted)

	// Forward-auth for reverse proxies (any method: the proxy asks about
	// whatever request it guards).
	s.verifyRoute = s.instrument(verifyPath, s.verify)
	mux.Handle(verifyPath, s.verifyRoute)

	// The pages' stylesheet and script, from the binary.
	s.handle(mux, "GET /static/{name}", s.staticFile)

	// OpenID Connect provider (oidc*.go).
	s.mountOIDC(mux)

	// Enrollment (enroll*.go): the invitation link or the code from the
	// letter, a key or an app, recovery codes; and the person's own factors.
	s.handle(mux, "GET /enroll", s.enrollPage)
	s.handle(mux, "POST /enroll", s.enrollRedeem)
	s.handle(mux, "GET /enroll/{token}", s.enrollLinkPage)
	s.handle(mux, "POST /enroll/{token}", s.enrollRedeem)
	s.handle(mux, "GET /enroll/key", s.enrollKeyPage)
	s.handle(mux, "POST /enroll/key/begin", s.enrollKeyBegin)
	s.handle(mux, "POST /enroll/key", s.enrollKeyFinish)
	s.handle(mux, "POST /enroll/app", s.enrollAppBegin)
	s.handle(mux, "POST /enroll/app/confirm", s.enrollAppConfirm)
	s.handle(mux, "GET /enroll/password", s.enrollPasswordPage)
	s.handle(mux, "POST /enroll/password", s.enrollPasswordSet)
	s.handle(mux, "POST /enroll/recovery", s.enrollRecovery)
	s.handle(mux, "POST /enroll/done", s.enrollDone)
	s.handle(mux, "GET /enroll/app/confirm", s.enrollAppShow)
	s.handle(mux, "GET /enroll/app", s.enrollAppShow)
	s.handle(mux, "GET /enroll/recovery", s.enrollCodesShow)
	s.handle(mux, "GET /enroll/done", s.enrollResume)
	s.handle(mux, "GET /account/factors", s.accountFactors)
	s.handle(mux, "POST /account/factors/add", s.accountAddFactor)
	s.handle(mux, "POST /account/factors/remove", s.accountRemoveFactor)
	s.handle(mux, "POST /account/factors/rename", s.accountRenameFactor)
	s.handle(mux, "POST /account/factors/recovery", s.accountRecoveryCodes)
	s.handle(mux, "POST /account/password", s.accountPassword)

	// "This was not me": the link in a notice of a reset or a new factor
	// freezes the account (freeze.go).
	s.handle(mux, "GET /freeze/{token}", s.freezePage)
	s.handle(mux, "POST /freeze/{token}", s.freeze)

	// Recovery by e-mail (recover.go): the address, the mailed link (in
	// the browser that asked), the notice's cancel link, and the cancel on
	// /account; 404 unless a group allows it or citizens are enabled.
	s.handle(mux, "GET /recover", s.recoverPage)
	s.handle(mux, "POST /recover", s.recoverAsk)
	s.handle(mux, "GET /recover/{token}", s.recoverLinkPage)
	s.handle(mux, "POST /recover/{token}", s.recoverStart)
	s.handle(mux, "GET /recover/cancel/{token}", s.recoverCancelPage)
	s.handle(mux, "POST /recover/cancel/{token}", s.recoverCancel)
	s.handle(mux, "POST /account/recovery/cancel", s.accountRecoveryCancel)
	s.handle(mux, "GET "+recoverPendingPath, s.recoverPendingPage)
	s.handle(mux, "POST "+recoverPendingPath+"/cancel", s.recoverPendingCancel)

	// Confirming an e-mail address by the link mailed to it (email.go).
	s.handle(mux, "GET /email/confirm/{token}", s.emailConfirmPage)
	s.handle(mux, "POST /email/confirm/{token}", s.emailConfirm)

	// Citizens register themselves (register.go), only where citizens.enabled.
	if s.register {
		s.handle(mux, "GET /register", s.registerPage)
		s.handle(mux, "POST /register", s.registerSubmit)
		s.handle(mux, "GET /register/confirm/{token}", s.registerConfirmPage)
		s.handle(mux, "POST /register/confirm/{token}", s.registerConfirm)
	}

	// The IT console (admin*.go): people, their factors, the desk's
	// actions, the audit log; 404 for everyone without a desk role.
	s.adminRoutes(mux)

	// The address printed at start: her account, which leads to sign-in.
	s.handle(mux, "GET /{$}", s.home)

	// Everything else.
	s.handle(mux, "/", s.notFound)
}

// handle registers h under pattern with its metrics and log line.
func (s *Server) handle(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.Handle(pattern, s.instrument(pattern, h))
}

// home sends whoever opens the bare address to her account (and from
// there, when she is not signed in, to the sign-in).
func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, http.StatusNotFound, msgNotFound, nil)
}
