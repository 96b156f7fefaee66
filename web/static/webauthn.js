// Keyhall: sign in with a security key or passkey (WebAuthn Level 3).
// Served from the binary; the pages carry no inline script (CSP script-src 'self').
//
// A button with data-webauthn starts one ceremony when pressed:
//   POST data-begin  -> options (CredentialAssertion JSON)
//   navigator.credentials.get()
//   POST data-finish -> {next} on success, {error[, next]} otherwise.
// A button with data-webauthn and data-create inside a form registers a key
// instead (register below): begin, navigator.credentials.create(), then the
// form is sent with the credential.
// Messages come from the button's data-msg-* attributes, in the page's language,
// and are shown in the page's role="alert" region (#error).
(function () {
  "use strict";

  function toBytes(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // descriptors are credential descriptors with their ids as bytes.
  function descriptors(list) {
    return list.map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }

  // requestOptions turns the server's JSON into what credentials.get() takes
  // (WebAuthn L3 §5.1.4.3 parseRequestOptionsFromJSON, or a small fallback).
  function requestOptions(pk) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(pk);
    }
    var o = Object.assign({}, pk);
    o.challenge = toBytes(pk.challenge);
    if (pk.allowCredentials) { o.allowCredentials = descriptors(pk.allowCredentials); }
    return o;
  }

  // credentialJSON is credential.toJSON() (WebAuthn L3 §5.1), or a fallback.
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return cred.toJSON(); } catch (e) { /* fall back below */ }
    }
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        authenticatorData: toB64url(r.authenticatorData),
        signature: toB64url(r.signature)
      }
    };
    if (r.userHandle) { out.response.userHandle = toB64url(r.userHandle); }
    if (cred.authenticatorAttachment) { out.authenticatorAttachment = cred.authenticatorAttachment; }
    return out;
  }

  function post(url, body) {
    return window.fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        return { ok: res.ok, data: data || {} };
      });
    });
  }

  function say(el, text) {
    if (el) { el.textContent = text || ""; }
  }

  async function run(btn) {
    var alertBox = document.getElementById("error");
    var status = document.getElementById("key-status");
    var msg = btn.dataset;
    say(alertBox, "");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(alertBox, msg.msgUnsupported);
      return;
    }
    var body = {};
    if (msg.returnTo !== undefined) { body.return_to = msg.returnTo; }
    var begin, finish, cred;
    try {
      begin = await post(msg.begin, body);
    } catch (e) {
      say(alertBox, msg.msgNetwork);
      return;
    }
    if (!begin.ok || !begin.data.publicKey) {
      if (begin.data.next) { window.location.assign(begin.data.next); return; }
      say(alertBox, begin.data.error || msg.msgNetwork);
      return;
    }
    say(status, msg.msgWorking);
    try {
      var req = { publicKey: requestOptions(begin.data.publicKey) };
      if (begin.data.mediation) { req.mediation = begin.data.mediation; }
      cred = await navigator.credentials.get(req);
    } catch (e) {
      say(status, "");
      say(alertBox, msg.msgCancelled);
      return;
    }
    try {
      finish = await post(msg.finish, credentialJSON(cred));
    } catch (e) {
      say(status, "");
      say(alertBox, msg.msgNetwork);
      return;
    }
    say(status, "");
    if (finish.data.next) { window.location.assign(finish.data.next); }
    if (!finish.ok) { say(alertBox, finish.data.error || msg.msgNetwork); }
  }

  // creationOptions turns the server's JSON into what credentials.create()
  // takes (WebAuthn L3 §5.1.3 parseCreationOptionsFromJSON, or a fallback).
  function creationOptions(pk) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(pk);
    }
    var o = Object.assign({}, pk);
    o.challenge = toBytes(pk.challenge);
    o.user = Object.assign({}, pk.user, { id: toBytes(pk.user.id) });
    if (pk.excludeCredentials) { o.excludeCredentials = descriptors(pk.excludeCredentials); }
    return o;
  }

  // registrationJSON is credential.toJSON() of a new credential, or a fallback.
  function registrationJSON(cred) {
    if (typeof cred.toJSON === "function") {
      try { return cred.toJSON(); } catch (e) { /* fall back below */ }
    }
    var r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      response: {
        clientDataJSON: toB64url(r.clientDataJSON),
        attestationObject: toB64url(r.attestationObject),
        transports: r.getTransports ? r.getTransports() : []
      }
    };
  }

  // register runs a registration for a button with data-create inside a
  // form: POST data-begin -> options, navigator.credentials.create(), then
  // the form is sent with the credential in its "credential" field, and the
  // server answers with the next page.
  async function register(btn) {
    var alertBox = document.getElementById("error");
    var status = document.getElementById("key-status");
    var msg = btn.dataset;
    say(alertBox, "");
    if (!window.PublicKeyCredential || !navigator.credentials || !btn.form) {
      say(alertBox, msg.msgUnsupported);
      return;
    }
    var begin, cred;
    try {
      begin = await post(msg.begin, {});
    } catch (e) {
      say(alertBox, msg.msgNetwork);
      return;
    }
    if (!begin.ok || !begin.data.publicKey) {
      if (begin.data.next) { window.location.assign(begin.data.next); return; }
      say(alertBox, begin.data.error || msg.msgNetwork);
      return;
    }
    say(status, msg.msgWorking);
    try {
      cred = await navigator.credentials.create({ publicKey: creationOptions(begin.data.publicKey) });
    } catch (e) {
      say(status, "");
      say(alertBox, msg.msgCancelled);
      return;
    }
    btn.form.elements.credential.value = JSON.stringify(registrationJSON(cred));
    btn.form.submit();
  }

  // A button with data-print prints the page (the print stylesheet shows
  // only what is meant for paper).
  function bindPrint() {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-print]"), function (btn) {
      btn.addEventListener("click", function () { window.print(); });
    });
  }

  function bind() {
    var buttons = document.querySelectorAll("button[data-webauthn]");
    Array.prototype.forEach.call(buttons, function (btn) {
      var busy = false;
      btn.addEventListener("click", function () {
        if (busy) { return; }
        busy = true;
        btn.setAttribute("aria-busy", "true");
        (btn.hasAttribute("data-create") ? register : run)(btn).finally(function () {
          busy = false;
          btn.removeAttribute("aria-busy");
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", bind);
    document.addEventListener("DOMContentLoaded", bindPrint);
  } else {
    bind();
    bindPrint();
  }
})();
