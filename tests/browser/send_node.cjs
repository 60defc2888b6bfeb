// Sends identify, group, track and page with an official Node.js SDK, default settings.
//   node send_node.cjs <rudderstack|segment> <csroute URL> <write key> <user id>
// Exits 0 once the SDK reports the events delivered, 1 with the error otherwise.
"use strict";

const [sdk, url, writeKey, userId] = process.argv.slice(2);
const companyId = `${userId}-co`;
const calls = [
  ["identify", { userId, traits: { email: `${userId}@example.com`, name: `Person ${userId}` } }],
  ["group", { userId, groupId: companyId, traits: { name: `Company of ${userId}` } }],
  ["track", { userId, event: "Report Exported", properties: { format: "csv" } }],
  ["page", { userId, name: "Pricing", properties: { path: "/pricing" } }],
];

function fail(error) {
  console.error(`${sdk}: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
}

async function rudderstack() {
  const Analytics = require("@rudderstack/rudder-sdk-node");
  const client = new Analytics(writeKey, { dataPlaneUrl: url, errorHandler: fail });
  for (const [method, message] of calls) client[method](message);
  await client.flush();
}

async function segment() {
  const { Analytics } = require("@segment/analytics-node");
  const client = new Analytics({ writeKey, host: url });
  client.on("error", fail);
  for (const [method, message] of calls) client[method](message);
  await client.closeAndFlush();
}

({ rudderstack, segment })[sdk]().then(() => process.exit(0), fail);
