// Roster's console in a real browser: Debian's chromium driven by playwright-core (never a
// browser download), axe-core's accessibility check on every page, a screenshot of what each
// step checked. Starts its own Roster (the binary given as the first argument) on a free
// loopback port with a fresh SQLite data directory, and stops it at the end.
//
//   node browser-tests/console.mjs target/debug/roster [screenshot-dir]

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const binary = resolve(process.argv[2] ?? "target/debug/roster");
const shots = resolve(process.argv[3] ?? "target/screenshots");
mkdirSync(shots, { recursive: true });
const axeSource = readFileSync(new URL("./node_modules/axe-core/axe.min.js", import.meta.url), "utf8");
const cert = readFileSync(new URL("../crates/roster-server/tests/fixtures/idp-cert-sha256.pem", import.meta.url), "utf8");

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  console.log(`${ok ? "  ok  " : "  FAIL"} ${what}`);
}

function freePort() {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// Start Roster; resolve with its base URL, the owner's token and the printed password link.
async function startRoster() {
  const dir = mkdtempSync(join(tmpdir(), "roster-browser-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("ROSTER_")));
  env.ROSTER_BOOTSTRAP_TOKEN_FILE = join(dir, "owner.token");
  const server = spawn(binary, ["serve", "--data-dir", join(dir, "data"), "--listen", `127.0.0.1:${port}`], { env });
  let out = "";
  server.stdout.on("data", (d) => (out += d));
  server.stderr.on("data", (d) => (out += d));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const link = out.match(/http:\/\/\S+\/console\/password\/[0-9a-f]{64}/);
    if (link) {
      try {
        const r = await fetch(`${base}/health`);
        if (r.ok) {
          const token = readFileSync(env.ROSTER_BOOTSTRAP_TOKEN_FILE, "utf8").trim();
          return { server, base, token, link: link[0], log: () => out };
        }
      } catch {}
    }
    if (server.exitCode !== null || Date.now() > deadline) {
      throw new Error(`roster did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function api(base, token, method, path, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Token ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

// RFC 6238: the TOTP code of a base32 secret at time step `step` (SHA-1, 6 digits).
function totp(secret, step) {
  const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const c of secret.replace(/=+$/, "").toUpperCase()) {
    value = ((value << 5) | letters.indexOf(c)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const o = h[19] & 0xf;
  const n = (((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1_000_000;
  return String(n).padStart(6, "0");
}
const stepNow = () => Math.floor(Date.now() / 30_000);

const roster = await startRoster();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
let page = await context.newPage();
const cspErrors = [];
page.on("console", (m) => {
  if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
});
page.on("pageerror", (e) => cspErrors.push(String(e)));

let shot = 0;
// Check the page for accessibility (axe-core: no serious or critical violations) and save a
// screenshot of it.
async function look(name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await globalThis.axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  check(result.length === 0, `${name}: no serious or critical accessibility violations ${result.join("; ")}`);
  shot += 1;
  const file = join(shots, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`       screenshot ${file}`);
}

try {
  const password = "a long console passphrase";
  // The link first start printed: choose the owner's password, and be signed in.
  await page.goto(roster.link);
  await look("choose-password");
  await page.getByLabel("New password").fill(password);
  await page.getByRole("button", { name: "Save and sign in" }).click();
  await page.waitForURL(`${roster.base}/console`);
  check(await page.getByRole("heading", { name: "Overview" }).isVisible(), "the link signs the owner in to the overview");

  // Register the identity provider in the console, switch it on, and copy its SCIM URL.
  await page.getByRole("link", { name: "Identity providers" }).click();
  await look("identity-providers");
  await page.getByLabel("Name").fill("Entra ID");
  await page.getByLabel("Sign-in URL").fill("https://login.microsoftonline.com/t/saml2");
  await page.getByLabel("Entity id").fill("https://sts.windows.net/t/");
  await page.getByLabel("Signing certificate").fill(cert);
  await page.getByRole("button", { name: "Register" }).click();
  await page.getByRole("heading", { name: "Entra ID" }).waitFor();
  await page.getByRole("button", { name: "Set as active" }).click();
  await page.getByText("Saved.").waitFor();
  await page.getByRole("button", { name: "Turn SCIM on" }).click();
  await page.getByText("Saved.").waitFor();
  check(await page.getByRole("button", { name: "Turn SCIM off" }).isVisible(), "SCIM is on");
  await page.getByRole("button", { name: "Test connection" }).click();
  await page.getByRole("cell", { name: /GET \/Users\?filter=userName eq/ }).waitFor();
  check((await page.getByText("passed", { exact: true }).count()) === 2, "Test connection passes");
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: roster.base });
  await page.locator("[data-copy='#scim-url']").click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check(/\/v4\/users\/scim\/[0-9a-f-]{36}\/Users$/.test(copied), `the copy button copies the SCIM URL (${copied})`);
  const idp = { body: { scim_url: copied } };
  // The Secret Token: a SCIM token made on the page, copied.
  await page.getByRole("button", { name: "Make a SCIM token" }).click();
  await page.locator("#scim-token").waitFor();
  await page.locator("[data-copy='#scim-token']").click();
  const scimToken = await page.evaluate(() => navigator.clipboard.readText());
  check(/^azion[a-z0-9]{35}$/.test(scimToken), "the copy button copies the SCIM token");
  const scim = idp.body.scim_url.replace(/\/Users$/, "");
  const scimCall = (method, path, body) =>
    fetch(`${scim}${path}`, {
      method,
      headers: { Authorization: `Bearer ${scimToken}`, "Content-Type": "application/scim+json" },
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const user = await scimCall("POST", "/Users", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "grace.hopper@contoso.com",
    name: { givenName: "Grace", familyName: "Hopper" }, displayName: "Grace Hopper", active: true,
    emails: [{ value: "grace.hopper@contoso.com", type: "work", primary: true }],
  });
  check(user.status === 201, `SCIM makes a user (${user.status})`);
  const group = await scimCall("POST", "/Groups", {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineering",
    members: [{ value: user.body.id }],
  });
  check(group.status === 201, `SCIM makes a group with the user (${group.status})`);
  // The provider's page shows the new log entries by itself (it refreshes every 5 seconds).
  await page.getByText("Nothing yet", { exact: false }).waitFor({ state: "detached", timeout: 15_000 });
  const entries = page.locator("details.entry");
  check((await entries.count()) === 2, `the provisioning log shows both requests (${await entries.count()})`);
  await entries.last().locator("summary").click();
  check(await entries.last().getByText("POST", { exact: false }).first().isVisible(), "an entry opens to its request");
  await look("provisioning-log");
  await page.getByRole("link", { name: "Overview" }).click();
  await look("overview");

  // Users Management: search as you type finds the user.
  await page.getByRole("link", { name: "Users Management" }).click();
  await page.getByLabel("Search").pressSequentially("grace", { delay: 40 });
  await page.waitForURL(/q=grace/);
  const row = page.getByRole("row", { name: /grace\.hopper@contoso\.com/ });
  await row.waitFor();
  check(await row.getByText("Engineering").isVisible(), "the search shows the user with its team");
  check((await page.getByRole("row").count()) === 2, "the search shows that user alone");
  await look("users-management");

  // Teams: the provisioned group, read-only, with its member.
  await page.getByRole("link", { name: "Teams" }).click();
  await page.getByRole("link", { name: "Engineering" }).click();
  await page.getByText("read-only", { exact: false }).waitFor();
  check(await page.getByRole("link", { name: "Grace Hopper" }).isVisible(), "the team page lists its member");
  await look("team");
  await page.getByRole("link", { name: "Users Management" }).click();
  await page.getByLabel("Search").pressSequentially("grace", { delay: 40 });
  await page.waitForURL(/q=grace/);
  await row.waitFor();
  // The user's page: its SCIM document and history; deactivate, and the IAM API agrees.
  await row.getByRole("link").click();
  await page.getByRole("heading", { name: "Grace Hopper" }).waitFor();
  check(await page.getByText(user.body.id, { exact: true }).isVisible(), "the user page shows the SCIM id");
  check((await page.locator("pre.doc").last().textContent()).includes("grace.hopper@contoso.com"), "the SCIM document as sent");
  check(await page.locator("details.entry").first().getByText("created", { exact: false }).isVisible(), "the user's history shows its creation");
  const iamId = new URL(page.url()).pathname.split("/").pop();
  await page.getByRole("button", { name: "Deactivate" }).click();
  await page.getByText("The user is deactivated.").waitFor();
  const iam = await api(roster.base, roster.token, "GET", `/iam/users/${iamId}`);
  check(iam.body?.data?.is_active === false, "the IAM API says the user is inactive");
  await look("user");

  // Personal tokens: make one (shown once), it works, revoke it.
  await page.getByRole("link", { name: "Personal tokens" }).click();
  await page.getByLabel("Name").fill("Browser test");
  await page.getByRole("button", { name: "Create token" }).click();
  const key = (await page.locator("#new-key").textContent()).trim();
  check(/^azion[a-z0-9]{35}$/.test(key), "the new key is shown");
  check((await api(roster.base, key, "GET", "/iam/user")).status === 200, "the new key works");
  await look("tokens");
  await page.getByRole("button", { name: "Revoke Browser test" }).click();
  await page.waitForURL(`${roster.base}/console/tokens`);
  check((await api(roster.base, key, "GET", "/iam/user")).status === 401, "the revoked key is refused");

  // The profile, then sign out: the console is closed again.
  await page.getByRole("link", { name: "Account", exact: true }).click();
  await page.getByLabel("Company").fill("Contoso");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.getByText("Saved.").waitFor();
  await look("account");
  await page.getByRole("link", { name: "Your profile", exact: true }).click();
  await look("profile");

  // Two-factor sign-in: set it up from the profile with a first code from the "app".
  await page.getByRole("link", { name: "Manage two-factor sign-in" }).click();
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  check(await page.getByRole("img", { name: /QR code/ }).isVisible(), "a QR code to scan");
  await look("two-factor-setup");
  const firstStep = stepNow();
  await page.getByLabel("The 6-digit code").fill(totp(secret, firstStep));
  await page.getByRole("button", { name: "Turn on two-factor sign-in" }).click();
  await page.getByText("Two-factor sign-in is on.").waitFor();
  check((await page.locator("#recovery-codes li").count()) === 10, "ten recovery codes, shown once");
  await look("recovery-codes");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.waitForURL(/\/console\/sign-in/);
  await look("signed-out");
  await page.goto(`${roster.base}/console/users`);
  check(page.url().includes("/console/sign-in"), "signed out, the console asks to sign in");

  // Sign in again with the password.
  await page.getByLabel("Email").fill("owner@roster.localhost");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  // The password alone is not enough now: the code from the app.
  await page.waitForURL(/\/console\/sign-in\/code/);
  await look("two-factor-code");
  // A code not used yet (the first one was, and is refused a second time).
  await page.getByLabel(/6-digit code/).fill(totp(secret, Math.max(stepNow(), firstStep + 1)));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/console\/users/);
  check(await page.getByRole("heading", { name: "Users Management" }).isVisible(), "signing in returns to the page asked for");

  // The owner requires two-factor sign-in of the account; a colleague sets it up at sign-in.
  await page.getByRole("link", { name: "Account", exact: true }).click();
  await page.getByLabel(/Require two-factor sign-in/).check();
  await page.getByRole("button", { name: "Save the requirement" }).click();
  await page.getByText("Two-factor sign-in is required of everyone").waitFor();
  const made = await api(roster.base, roster.token, "POST", "/iam/users", {
    first_name: "Ada", last_name: "Lovelace", email: "ada@contoso.com",
  });
  check(made.status === 201, `the IAM API makes a hand-made user (${made.status})`);
  await page.goto(`${roster.base}/console/users/${made.body.data.id}`);
  await page.getByRole("button", { name: "Make a password link" }).click();
  const link = (await page.locator("#password-link").textContent()).trim();
  const ada = await (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage();
  await ada.goto(link);
  await ada.getByLabel("New password").fill("ada's own long password");
  await ada.getByRole("button", { name: "Save and sign in" }).click();
  await ada.waitForURL(/\/console\/sign-in\/two-factor/);
  const owner = page;
  page = ada;
  await look("two-factor-required");
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const adaSecret = (await page.locator("#totp-secret").textContent()).trim();
  await page.getByLabel("The 6-digit code").fill(totp(adaSecret, stepNow()));
  await page.getByRole("button", { name: "Turn on two-factor sign-in" }).click();
  await page.locator("#recovery-codes").waitFor();
  check((await page.locator("#recovery-codes li").count()) === 10, "the colleague gets ten recovery codes");
  await look("two-factor-enrolled");
  await page.getByRole("link", { name: /continue to the console/ }).click();
  await page.waitForURL(/\/console/);
  check(await page.getByRole("heading", { name: "Your profile" }).isVisible(), "the colleague is signed in after setting two-factor up");
  page = owner;
  check(cspErrors.length === 0, `no Content-Security-Policy violations or script errors ${cspErrors.join("; ")}`);
} catch (e) {
  failures.push(String(e.stack ?? e));
  console.log(roster.log());
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
  roster.server.kill("SIGTERM");
}
if (failures.length) {
  console.log(`browser tests: ${failures.length} failed:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("browser tests: every check passed");
