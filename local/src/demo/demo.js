// The demo's client: fetch with the page's own origin, so the browser sends the refresh cookie
// to /auth/refresh and /auth/logout by itself. The access token lives in memory, and in
// localStorage only so that the scripted run (#run=…) can show a token outliving its 15 minutes.
"use strict";

const log = (line) => {
  document.getElementById("log").textContent += line + "\n";
};

const creds = () => {
  const form = new FormData(document.getElementById("credentials"));
  return { email: form.get("email"), password: form.get("password") };
};

let access = localStorage.getItem("demo-access-token");

async function call(step, method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers["authorization"] = "Bearer " + token;
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  log(step + " " + r.status);
  try {
    return { status: r.status, json: JSON.parse(text) };
  } catch (_) {
    return { status: r.status, json: null };
  }
}

const keep = (r) => {
  if (r.json && r.json.access_token) {
    access = r.json.access_token;
    localStorage.setItem("demo-access-token", access);
  }
  return r;
};

const actions = {
  register: () => call("register", "POST", "/auth/register", creds()),
  // The link mailed at registration: /verify-email#token=… (this page reads `token` from its
  // own fragment, as an application's confirmation page would).
  verify: () =>
    call("verify", "POST", "/auth/email/verify", {
      token: new URLSearchParams(location.hash.slice(1)).get("token"),
    }),
  signin: async () => keep(await call("login", "POST", "/auth/login", creds())),
  me: () => call("me", "GET", "/me", undefined, access),
  refresh: async () => keep(await call("refresh", "POST", "/auth/refresh", {})),
  logout: () => call("logout", "POST", "/auth/logout", {}),
  // A passkey for the signed-in account (the browser's authenticator creates it), and a
  // sign-in with it that asks for no name.
  passkey_register: async () => {
    const o = await call("passkey options", "POST", "/me/passkeys/options", undefined, access);
    if (o.status !== 200) return o;
    const created = await navigator.credentials.create({
      publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.json.publicKey),
    });
    return call("passkey register", "POST", "/me/passkeys", {
      challenge_id: o.json.challenge_id,
      credential: created.toJSON(),
      name: "this browser",
    }, access);
  },
  passkey_signin: async () => {
    const o = await call("passkey sign-in options", "POST", "/auth/passkeys/options", {});
    if (o.status !== 200) return o;
    const asserted = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.json.publicKey),
    });
    return keep(await call("passkey login", "POST", "/auth/passkeys/login", {
      challenge_id: o.json.challenge_id,
      credential: asserted.toJSON(),
    }));
  },
};

for (const [id, run] of Object.entries(actions)) {
  const button = document.getElementById(id);
  if (button) button.addEventListener("click", run);
}

// Scripted runs for the browser test: #run=a,b,c&email=…&password=…
(async () => {
  const params = new URLSearchParams(location.hash.slice(1));
  const form = document.getElementById("credentials");
  for (const name of ["email", "password"]) {
    if (params.get(name)) form.elements[name].value = params.get(name);
  }
  for (const step of (params.get("run") || "").split(",").filter(Boolean)) {
    try {
      await actions[step]();
    } catch (e) {
      log(step + " threw " + e.name + ": " + e.message);
    }
  }
  if (params.get("run")) log("done");
})();
