// A real OpenID Provider (panva/oidc-provider, certified OpenID Connect
// implementation) for voms-auth's tests. Driven by
// tests/support/oidc_provider.py; not for production.
//
// Everything a relying party talks to is the provider's own code: discovery,
// JWKS, token endpoint (client authentication, token signing), RFC 7662
// introspection and userinfo. The test-only parts are:
//
// * a registered grant type `urn:voms-auth:params:grant-type:test-user`
//   (oidc-provider's own registerGrantType extension point) so tests obtain a
//   user's access token without a browser: the client authenticates normally
//   and names the user (`sub`), their userinfo claims (`claims`, JSON), the
//   extra claims placed in the token itself (`token_claims`, JSON), the
//   token's `resource` (=> signed JWT with that audience; no resource =>
//   opaque token usable at userinfo), its signing `alg` and `ttl` seconds;
// * the grant's optional `iss` parameter makes the provider sign a JWT whose
//   `iss` claim is that value (through oidc-provider's own
//   `formats.customizers.jwt` hook), the way a provider sharing its keys
//   between several issuers (tenants) would;
// * the grant's optional `nokid=1` parameter drops `kid` from the JWT header
//   (same hook), as providers with a single signing key may do;
// * `POST /_test/rotate?keep=0|1` replaces the signing keys (keeping the old
//   ones published after the new ones when keep=1).
// * the OAuth 2.0 password grant (`password`, registered through the same
//   registerGrantType extension point; oidc-provider leaves it out as
//   deprecated) for keystoneauth1's v3oidcpassword plugin, against test
//   users added with `POST /_test/users` (JSON: username, password, claims,
//   token_claims);
// * the device flow's user step (`POST /_test/device/approve`, JSON:
//   user_code, sub, claims, token_claims) approves a pending device code
//   for a user as the provider's own pages would after a login; the device
//   authorization and token endpoints are the provider's own;
// * claims of client_credentials tokens (sub = the client id, plus what
//   `POST /_test/client-claims` set, JSON: client_id, token_claims), as a
//   provider configures them for a service account.
//
// * with `--redirect-uri URL` (repeatable) the client may also use the
//   authorization code flow, with the login and consent pages and the
//   `POST /_test/people` registration of interactions.js (browser tests).
//
// Usage: node server.js --port N --state-dir DIR [--issuer URL]
//   --client-id ID --client-secret SECRET [--redirect-uri URL ...]
// Keys are persisted in DIR/jwks.json so a restart keeps them. The line
// `READY <issuer>` on stdout tells the driver the provider is listening.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

import { handleInteraction, personTokenClaims, registerPerson } from './interactions.js';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    issuer: { type: 'string' },
    'state-dir': { type: 'string' },
    'client-id': { type: 'string' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
  },
});

const port = Number(args.port);
const issuer = args.issuer || `http://${args.host}:${port}`;
const stateDir = args['state-dir'];
const jwksPath = path.join(stateDir, 'jwks.json');
const TEST_GRANT = 'urn:voms-auth:params:grant-type:test-user';
const redirectUris = args['redirect-uri'];
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function newKeys() {
  const make = (type, options, alg) => {
    const { privateKey } = crypto.generateKeyPairSync(type, options);
    const jwk = privateKey.export({ format: 'jwk' });
    return {
      ...jwk, alg, use: 'sig', kid: crypto.randomBytes(9).toString('base64url'),
    };
  };
  return [
    make('rsa', { modulusLength: 2048 }, 'RS256'),
    // the same RSA family for PS256 tokens: a second key so each has one alg
    make('rsa', { modulusLength: 2048 }, 'PS256'),
    make('ec', { namedCurve: 'P-256' }, 'ES256'),
    make('ed25519', {}, 'EdDSA'),
  ];
}

function loadKeys() {
  if (fs.existsSync(jwksPath)) {
    return JSON.parse(fs.readFileSync(jwksPath, 'utf8'));
  }
  const keys = newKeys();
  saveKeys(keys);
  return keys;
}

function saveKeys(keys) {
  fs.writeFileSync(jwksPath, JSON.stringify(keys), { mode: 0o600 });
}

// Per-user claims served at userinfo; per-token claims put in the token.
const accounts = new Map();
// Test users of the password grant: username -> {password, claims,
// token_claims}; token claims of each client's client_credentials tokens.
const passwordUsers = new Map();
const clientClaims = new Map();
const PASSWORD_GRANT = 'password';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const deviceClaims = new Map();
const pendingExtra = new WeakMap();
const issOverride = new WeakMap();
const noKid = new WeakSet();

const CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name'],
  email: ['email', 'email_verified'],
  entitlements: ['eduperson_entitlement', 'wlcg.groups', 'groups'],
};

function parseJson(text, what) {
  if (!text) return {};
  try {
    const value = JSON.parse(text);
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return value;
    }
  } catch (err) {
    // fall through
  }
  throw new errors.InvalidRequest(`${what} must be a JSON object`);
}

// The token endpoint's answer for an access token a test grant made.
async function respondWith(ctx, token, scope) {
  ctx.oidc.entity('AccessToken', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    expires_in: token.expiration,
    token_type: 'Bearer',
    scope,
  };
}

async function testUserGrant(ctx, next) {
  const { client, params, provider } = ctx.oidc;
  if (!params.sub) throw new errors.InvalidRequest('sub is required');
  const claims = parseJson(params.claims, 'claims');
  const tokenClaims = parseJson(params.token_claims, 'token_claims');
  accounts.set(params.sub, claims);

  const scope = params.scope || 'openid profile email entitlements';
  const grant = new provider.Grant({
    accountId: params.sub, clientId: client.clientId,
  });
  grant.addOIDCScope(scope);
  if (params.resource) grant.addResourceScope(params.resource, scope);
  const grantId = await grant.save();

  const token = new provider.AccessToken({
    accountId: params.sub,
    client,
    grantId,
    scope,
    gty: TEST_GRANT,
    ...(params.ttl ? { expiresIn: Number(params.ttl) } : undefined),
  });
  if (params.resource) {
    token.resourceServer = new provider.ResourceServer(params.resource, {
      scope,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: params.alg || 'RS256' } },
    });
  }
  pendingExtra.set(token, tokenClaims);
  if (params.iss) issOverride.set(token, params.iss);
  if (params.nokid) noKid.add(token);
  await respondWith(ctx, token, scope);
  await next();
}

async function passwordGrant(ctx, next) {
  const { client, params, provider } = ctx.oidc;
  const user = passwordUsers.get(params.username);
  if (!user || !params.password || user.password !== params.password) {
    throw new errors.InvalidGrant('wrong username or password');
  }
  accounts.set(params.username, user.claims || {});
  const scope = params.scope || 'openid profile';
  const grant = new provider.Grant({
    accountId: params.username, clientId: client.clientId,
  });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const token = new provider.AccessToken({
    accountId: params.username, client, grantId, scope, gty: PASSWORD_GRANT,
  });
  pendingExtra.set(token, user.token_claims || {});
  await respondWith(ctx, token, scope);
  await next();
}

async function approveDevice(entry) {
  // oidc-provider's own user-code normalisation (helpers/user_codes.js)
  const userCode = String(entry.user_code || '')
    .replace(/[a-z]/g, (char) => char.toUpperCase()).replace(/\W/g, '');
  const code = await provider.DeviceCode.findByUserCode(userCode);
  if (!code) throw new Error('no such user code');
  accounts.set(entry.sub, entry.claims || {});
  deviceClaims.set(entry.sub, entry.token_claims || {});
  const grant = new provider.Grant({
    accountId: entry.sub, clientId: code.clientId,
  });
  grant.addOIDCScope(code.params.scope || 'openid');
  code.grantId = await grant.save();
  code.accountId = entry.sub;
  code.authTime = Math.floor(Date.now() / 1000);
  await code.save();
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try {
        resolve(JSON.parse(body || '{}'));
      } catch (err) {
        reject(err);
      }
    });
  });
}

function buildProvider(keys) {
  const provider = new Provider(issuer, {
    jwks: { keys },
    clients: [{
      client_id: args['client-id'],
      client_secret: args['client-secret'],
      grant_types: [TEST_GRANT, 'client_credentials', PASSWORD_GRANT,
        DEVICE_GRANT,
        ...(redirectUris.length ? ['authorization_code'] : [])],
      response_types: redirectUris.length ? ['code'] : [],
      redirect_uris: redirectUris,
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: CLAIMS,
    scopes: Object.keys(CLAIMS),
    async findAccount(ctx, sub) {
      if (!accounts.has(sub)) return undefined;
      return {
        accountId: sub,
        // a `sub` among the userinfo claims wins: lets tests play a
        // provider whose userinfo describes someone else
        async claims() { return { sub, ...accounts.get(sub) }; },
      };
    },
    async extraTokenClaims(ctx, token) {
      if (token.kind === 'ClientCredentials') {
        return { sub: token.clientId, ...clientClaims.get(token.clientId) };
      }
      if (token.gty === DEVICE_GRANT || token.gty === 'device_code') {
        return deviceClaims.get(token.accountId);
      }
      return pendingExtra.get(token) ?? personTokenClaims(token.accountId);
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    cookies: { keys: cookieKeys },
    formats: {
      customizers: {
        async jwt(ctx, token, jwt) {
          if (issOverride.has(token)) {
            // eslint-disable-next-line no-param-reassign
            jwt.payload.iss = issOverride.get(token);
          }
          if (noKid.has(token)) {
            // eslint-disable-next-line no-param-reassign
            jwt.header = { kid: undefined };
          }
        },
      },
    },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => ({
          scope: 'openid profile email entitlements',
          accessTokenFormat: 'jwt',
        }),
      },
    },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    ttl: {
      AccessToken: 600,
      ClientCredentials: 600,
      Grant: 3600,
    },
  });
  provider.registerGrantType(
    TEST_GRANT,
    testUserGrant,
    ['sub', 'claims', 'token_claims', 'resource', 'scope', 'ttl', 'alg',
      'iss', 'nokid'],
  );
  provider.registerGrantType(
    PASSWORD_GRANT,
    passwordGrant,
    ['username', 'password', 'scope'],
  );
  // the provider refuses tokens to plain-http issuers only when told to
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`server_error: ${err.stack}\n`);
  });
  return provider;
}

let keys = loadKeys();
let provider = buildProvider(keys);
let callback = provider.callback();

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname === '/_test/rotate' && req.method === 'POST') {
    const fresh = newKeys();
    keys = url.searchParams.get('keep') === '1' ? [...fresh, ...keys] : fresh;
    saveKeys(keys);
    provider = buildProvider(keys);
    callback = provider.callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
    return;
  }
  if (url.pathname === '/_test/people' && req.method === 'POST') {
    registerPerson(req, res, accounts).catch((err) => {
      res.writeHead(400);
      res.end(String(err.message));
    });
    return;
  }
  if (url.pathname.startsWith('/interaction/')) {
    handleInteraction(provider, req, res, url.pathname).catch((err) => {
      process.stderr.write(`interaction: ${err.stack}\n`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
    return;
  }
  if (url.pathname === '/_test/users' && req.method === 'POST') {
    readJson(req).then((user) => {
      passwordUsers.set(user.username, user);
      res.writeHead(204);
      res.end();
    }, () => { res.writeHead(400); res.end(); });
    return;
  }
  if (url.pathname === '/_test/device/approve' && req.method === 'POST') {
    readJson(req).then(approveDevice).then(() => {
      res.writeHead(204);
      res.end();
    }, (err) => { res.writeHead(400); res.end(String(err)); });
    return;
  }
  if (url.pathname === '/_test/client-claims' && req.method === 'POST') {
    readJson(req).then((entry) => {
      clientClaims.set(entry.client_id, entry.token_claims || {});
      res.writeHead(204);
      res.end();
    }, () => { res.writeHead(400); res.end(); });
    return;
  }
  callback(req, res);
});

server.listen(port, args.host, () => {
  process.stdout.write(`READY ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
