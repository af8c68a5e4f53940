// The provider's login and consent pages, for browser tests (WebSSO).
// Test-only; used by server.js.
//
// People who may sign in are registered by the test driver with
// `POST /_test/people` (JSON {username, password, sub, claims,
// token_claims}): `claims` are served at userinfo, `token_claims` are put
// into the access tokens issued to them (RFC 9068 JWTs when the
// authorization request named a `resource`). The pages are plain HTML
// forms, so a browser signs in exactly as at a real provider:
//
//   GET  /interaction/:uid          the login form, or the consent form
//   POST /interaction/:uid/login    user name + password; wrong => the form
//                                   again with "Wrong user name or password"
//   POST /interaction/:uid/consent  grants the scopes and resources asked
//
// Finishing an interaction is oidc-provider's own `interactionFinished`;
// grants are built as its devInteractions build them.

const people = new Map(); // username -> {password, sub}
const tokenClaims = new Map(); // sub -> claims put in their access tokens

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:4em auto}
label,input,button{display:block;margin:.4em 0}.error{color:#b00}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginForm(uid, clientId, error) {
  const message = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  return page('Test OpenID Provider: sign in', `
<p>Signing in to <strong>${escapeHtml(clientId)}</strong>.</p>${message}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="sign-in">Sign in</button>
</form>`);
}

function consentForm(uid, clientId, details) {
  const scopes = [...(details.missingOIDCScope || [])];
  const resources = Object.keys(details.missingResourceScopes || {});
  const items = [...scopes.map((s) => `scope ${s}`),
    ...resources.map((r) => `access to ${r}`)]
    .map((item) => `<li>${escapeHtml(item)}</li>`).join('');
  return page('Test OpenID Provider: consent', `
<p><strong>${escapeHtml(clientId)}</strong> asks for:</p><ul>${items}</ul>
<form method="post" action="/interaction/${escapeHtml(uid)}/consent">
<button type="submit" id="consent">Continue</button>
</form>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 65536) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, body, type = 'text/html; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Register a person who may sign in; `accounts` is server.js' userinfo map. */
export async function registerPerson(req, res, accounts) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const person = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  if (!person.username || !person.password || !person.sub) {
    send(res, 400, '{"error":"username, password and sub are required"}',
      'application/json');
    return;
  }
  people.set(person.username, { password: person.password, sub: person.sub });
  accounts.set(person.sub, person.claims || {});
  tokenClaims.set(person.sub, person.token_claims || {});
  send(res, 200, '{}', 'application/json');
}

/** Claims for the access tokens of a person who signed in, if any. */
export function personTokenClaims(accountId) {
  return tokenClaims.get(accountId);
}

/** Serve /interaction/:uid[/login|/consent]; false when not such a path. */
export async function handleInteraction(provider, req, res, pathname) {
  const match = /^\/interaction\/([^/]+)(?:\/(login|consent))?$/.exec(pathname);
  if (!match) return false;
  const [, uid, action] = match;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    send(res, 400, page('Test OpenID Provider', `<p class="error">${escapeHtml(err.message)}</p>`));
    return true;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Test OpenID Provider', '<p class="error">interaction mismatch</p>'));
    return true;
  }
  const { prompt, params, session } = details;
  const clientId = params.client_id;
  if (req.method === 'GET' && !action) {
    send(res, 200, prompt.name === 'login'
      ? loginForm(uid, clientId)
      : consentForm(uid, clientId, prompt.details));
    return true;
  }
  if (req.method !== 'POST' || !action) {
    send(res, 405, page('Test OpenID Provider', '<p>method not allowed</p>'));
    return true;
  }
  const form = await readForm(req);
  if (action === 'login') {
    const person = people.get(form.get('username') || '');
    if (prompt.name !== 'login' || !person
        || person.password !== form.get('password')) {
      send(res, 200, loginForm(uid, clientId, 'Wrong user name or password'));
      return true;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: person.sub },
    }, { mergeWithLastSubmission: false });
    return true;
  }
  // consent, built as oidc-provider's devInteractions build it
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  await provider.interactionFinished(req, res, {
    consent: { grantId: await grant.save() },
  }, { mergeWithLastSubmission: true });
  return true;
}
