// Microsoft's Graph client for JavaScript (@microsoft/microsoft-graph-client) against a Vigil
// gateway, unchanged but for the base URL: a filtered list with $top and $count, the whole
// nextLink walk through the SDK's PageIterator (no repeats, as many alerts as @odata.count
// said), get by id, a PATCH read back, identity protection reads and an action, and a 404
// surfacing as the SDK's GraphError. Exits non-zero on any failure. Run by scripts/sdk-check.sh.
//
// The SDK sends its token only over https, so the gateway is reached as it is deployed: behind a
// TLS-terminating front (here a small node https proxy on PUBLIC_PORT with the given
// certificate), with the gateway's public_url set to that front.
// Usage: node js_sdk_smoke.mjs GATEWAY_URL TOKEN PUBLIC_PORT CERT_PEM KEY_PEM
import { Client, PageIterator, GraphError } from "@microsoft/microsoft-graph-client";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";

const [gateway, token, publicPort, certFile, keyFile] = process.argv.slice(2);
const upstream = new URL(gateway);
const front = https.createServer(
  { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) },
  (req, res) => {
    const proxied = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    proxied.on("error", (e) => {
      res.writeHead(502);
      res.end(String(e));
    });
    req.pipe(proxied);
  },
);
await new Promise((ready) => front.listen(Number(publicPort), "127.0.0.1", ready));
const base = `https://localhost:${publicPort}`;

const client = Client.init({
  authProvider: (done) => done(null, token),
  baseUrl: base + "/",
  defaultVersion: "v1.0",
  // the SDK sends the token only to Graph's own hosts unless told of others
  customHosts: new Set(["localhost"]),
});

const page = await client
  .api("/security/alerts")
  .filter("severity eq 'high'")
  .top(3)
  .count(true)
  .get();
console.log("page1", page.value.length, "count", page["@odata.count"], "next", Boolean(page["@odata.nextLink"]));
// $top is per provider (Graph's federation semantics): up to 3 from each of the demo's 3
assert.ok(page.value.length >= 3 && page.value.length <= 9, `page of ${page.value.length}`);
assert.ok(page.value.every((a) => a.severity === "high"));

const ids = new Set();
const iterator = new PageIterator(client, page, (a) => {
  assert.ok(!ids.has(a.id), `repeated ${a.id}`);
  ids.add(a.id);
  return true;
});
await iterator.iterate();
console.log("walked", ids.size, "alerts; @odata.count was", page["@odata.count"]);
assert.equal(ids.size, page["@odata.count"], "walk and @odata.count disagree");

const first = page.value[0];
const got = await client.api(`/security/alerts/${first.id}`).get();
assert.equal(got.id, first.id);

// PATCH as the SDK sends it, then read it back (beta as well, to exercise both paths)
const assignee = `js-sdk-${Date.now()}@contoso.com`;
await client.api(`/security/alerts/${first.id}`).patch({
  assignedTo: assignee,
  status: "inProgress",
  vendorInformation: { provider: got.vendorInformation.provider, vendor: got.vendorInformation.vendor },
});
const after = await client.api(`/security/alerts/${first.id}`).version("beta").get();
console.log("patched", after.id, after.assignedTo, after.status);
assert.equal(after.assignedTo, assignee);
assert.equal(after.status, "inProgress");

const users = await client.api("/identityProtection/riskyUsers").top(5).get();
assert.ok(users.value.length > 0, "no risky users");
const detections = await client.api("/identityProtection/riskDetections").top(5).get();
assert.ok(detections.value.length > 0, "no risk detections");
const target = users.value[0].id;
await client.api("/identityProtection/riskyUsers/dismiss").post({ userIds: [target] });
const dismissed = await client.api(`/identityProtection/riskyUsers/${target}`).get();
console.log("dismissed", target, dismissed.riskState, dismissed.riskLevel);
assert.equal(dismissed.riskState, "dismissed");

try {
  await client.api("/security/alerts/does-not-exist").get();
  assert.fail("unknown id did not fail");
} catch (e) {
  console.log("404 ->", e.constructor.name, e.statusCode, e.code);
  assert.ok(e instanceof GraphError, `not a GraphError: ${e}`);
  assert.equal(e.statusCode, 404);
  assert.equal(e.code, "NotFound");
  assert.ok(e.requestId, "GraphError carries innerError's request-id");
}
console.log("javascript SDK: ok");
front.close();
process.exit(0);
