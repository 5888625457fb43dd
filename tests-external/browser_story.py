#!/usr/bin/env python3
"""The web app in a real browser: Debian's headless Chromium driven by Selenium, on a fresh server.

Starts `proffer serve` on a free loopback port with a fresh data directory (SQLite, or the given
PostgreSQL URL) and plays the person's story twice, at a desktop viewport (1280x900) and at a phone
viewport (390x844), each time as a new person:

  * signs up in the browser (first with a too-short password: the message is next to the password
    field and the email and handle are kept), and fills in an email, a full name and a postal address
    through the generated forms (first with an invalid email and an address without a town: the
    message is next to the field, the input is aria-invalid and keeps what was typed; 422);
  * signs out (the old session cookie no longer works on the server), fails to sign in with a wrong
    password (401, message, email kept), and signs in with the keyboard only: Tab from the top reaches
    the skip link first, then the email field, the password field and the button in that order, each
    with a visible focus outline;
  * two organisations (made with the admin API) ask for data through the API: the first for three
    keys, with a purpose, a third party, a duration and a price; the second for one key;
  * the person reads the first request's page (organisation, purpose in words, duration, passing on,
    price), grants two of the three keys for a shorter duration, and refuses the second with a reason;
  * the organisation reads the grant through the API and gets exactly the two keys, with the values
    typed in the browser, expiring after the shortened duration;
  * the person finds the grant on /grants, opens its receipt, revokes it through the confirmation
    page, and the organisation's next read is refused (403 grant-revoked);
  * the activity page shows the request, the grant, the disclosure and the revocation, and its
    filters (organisation, kind) narrow the timeline;
  * a form posted without its CSRF field (or with a wrong one) is refused (403) and changes nothing;
  * the second pass's person gets 404 for the first person's request and grant pages and cannot
    refuse or revoke them.

After every page the browser lands on it checks: a screenshot NN-name.png in the artifacts directory
(desktop/ and phone/), no SEVERE browser console entry (CSP violations included; the check is proven
able to see one at the start), every visible control labelled, html[lang], exactly one h1 and no
skipped heading level, alt on every img, WCAG AA contrast of text (4.5:1, 3:1 for large text), no
personal value in the URL, no sideways scrolling, no broken wording ("you lives", a dangling ";"),
and (fetched again with urllib) Content-Security-Policy with default-src 'none', X-Frame-Options:
DENY and Cache-Control: no-store. The session cookie must be HttpOnly and SameSite=Lax. The request
and activity pages are walked with Tab: every control shows a focus outline with 3:1 contrast. Then
a tour checks the later pages (/terms, /earnings, /export, /directory, and the organisation console
signed in with client credentials) where they exist (a printed note where they answer 404). Every
failed check is listed at the end (a problem seen on many pages once, with the pages); the exit
status is non-zero if any.
"""
import argparse
import base64
import datetime
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
LATER_PAGES = [("terms", "/terms"), ("earnings", "/earnings"), ("export", "/export"), ("directory", "/directory")]
PASSWORD = "correct horse battery"


class Fatal(Exception):
    """A step the rest of the story depends on failed."""


class Failures:
    """Failed checks. A problem of a page's own (the same on many pages) is listed once, with the pages it is on."""

    def __init__(self):
        self.story = []
        self.pages = {}  # problem -> ["[viewport] where", ...]

    def add(self, text):
        print("FAIL: " + text, flush=True)
        self.story.append(text)

    def add_page(self, problem, where):
        if problem not in self.pages:
            print(f"FAIL: {where}: {problem}", flush=True)
        self.pages.setdefault(problem, []).append(where)

    def __bool__(self):
        return bool(self.story or self.pages)

    def lines(self):
        out = list(self.story)
        for problem, wheres in self.pages.items():
            shown = ", ".join(wheres[:3]) + (f" and {len(wheres) - 3} more" if len(wheres) > 3 else "")
            out.append(f"{problem} — on {shown}")
        return out


# --------------------------------------------------------------------------------------------------
# The server and its API (urllib only).

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, headers=None, timeout=15):
    """A JSON API call: (status, parsed body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw) if raw else None
        except ValueError:
            return error.code, raw.decode(errors="replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def raw_http(base, method, path, cookies=None, form=None, timeout=15):
    """A browser-like request without following redirects: (status, headers as a list of pairs, body text)."""
    data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if cookies:
        request.add_header("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()))
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers.items(), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.items(), error.read().decode(errors="replace")


def header(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


class Server:
    def __init__(self, binary, database, work):
        self.binary, self.database, self.work = binary, database, work
        self.data_dir = os.path.join(work, "data")
        self.log_path = os.path.join(work, "server.log")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.credentials = {}  # organisation id -> (client id, client secret)
        self.seen = {}  # what one pass leaves for the next to try

    def start(self):
        command = [self.binary, "serve", "--data-dir", self.data_dir, "--port", str(self.port), "--host", "127.0.0.1"]
        if self.database:
            command += ["--database", self.database]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "PROFFER_BCRYPT_COST": "4"})
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise Fatal(f"the server exited with {self.process.returncode} while starting (see {self.log_path})")
            try:
                if call(self.base, "GET", "/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise Fatal("the server did not become healthy within 90 s")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return "killed"
        return self.process.returncode if self.process else None

    def admin_token(self):
        with open(os.path.join(self.data_dir, "admin.token")) as handle:
            return handle.read().strip()

    def organisation(self, name, domain, fund=0):
        """Creates a verified organisation; returns (org id, access token)."""
        admin = self.admin_token()
        status, org = call(self.base, "POST", "/v1/admin/organisations", admin, {"name": name, "domain": domain, "verified": True})
        if status != 201:
            raise Fatal(f"creating organisation {name} answered {status}: {org}")
        if fund:
            status, body = call(self.base, "POST", f"/v1/admin/organisations/{org['id']}/wallet/credits", admin,
                                {"amount": {"amount": fund, "currency": "EUR"}, "reference": "browser test"},
                                headers={"Idempotency-Key": "fund-" + org["id"]})
            if status != 201:
                raise Fatal(f"funding {name} answered {status}: {body}")
        basic = base64.b64encode(f"{org['clientId']}:{org['clientSecret']}".encode()).decode()
        request = urllib.request.Request(self.base + "/oauth/token", data=b"grant_type=client_credentials",
                                         headers={"Authorization": "Basic " + basic,
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=15) as response:
            token = json.load(response)["access_token"]
        self.credentials[org["id"]] = (org["clientId"], org["clientSecret"])
        return org["id"], token


# --------------------------------------------------------------------------------------------------
# Checks run in the page (ChromeDriver's script injection is not subject to the page's CSP).

COLOUR_JS = r"""
const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
  const p = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
const blend = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
const background = el => {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let colour = [255, 255, 255, 1];
  for (const layer of layers.reverse()) colour = blend(layer, colour);
  return colour;
};
const ratioOf = (fg, bg) => { const c = blend(fg, bg); const l1 = lum(c), l2 = lum(bg);
  return (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05); };
"""

PAGE_CHECKS_JS = COLOUR_JS + r"""
const problems = [];
const visible = el => {
  const style = getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') return false;
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.height > 0;
};
const describe = el => {
  let s = el.tagName.toLowerCase();
  if (el.id) s += '#' + el.id;
  if (el.name) s += '[name=' + el.name + ']';
  if (el.type && el.tagName === 'INPUT') s += '[type=' + el.type + ']';
  return s;
};
// html[lang]
if (!document.documentElement.getAttribute('lang')) problems.push('html has no lang attribute');
// every visible control labelled
for (const el of document.querySelectorAll('input, select, textarea')) {
  if (el.tagName === 'INPUT' && ['hidden', 'submit', 'button', 'reset', 'image'].includes(el.type)) continue;
  if (!visible(el)) continue;
  const byFor = el.id && Array.from(document.querySelectorAll('label')).some(l => l.htmlFor === el.id && l.textContent.trim());
  const wrapped = el.closest('label') && el.closest('label').textContent.trim();
  const aria = (el.getAttribute('aria-label') || '').trim();
  const labelledby = (el.getAttribute('aria-labelledby') || '').split(/\s+/).filter(Boolean)
    .some(id => document.getElementById(id) && document.getElementById(id).textContent.trim());
  if (!(byFor || wrapped || aria || labelledby)) problems.push('unlabelled control ' + describe(el));
}
// aria-describedby / aria-labelledby point at existing elements
for (const el of document.querySelectorAll('[aria-describedby], [aria-labelledby]')) {
  for (const attr of ['aria-describedby', 'aria-labelledby']) {
    for (const id of (el.getAttribute(attr) || '').split(/\s+/).filter(Boolean)) {
      if (!document.getElementById(id)) problems.push(describe(el) + ' ' + attr + ' names missing id ' + id);
    }
  }
}
// ids unique
const seen = {};
for (const el of document.querySelectorAll('[id]')) {
  if (seen[el.id]) problems.push('duplicate id ' + el.id);
  seen[el.id] = true;
}
// headings: exactly one h1, and no level skipped
const headings = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'));
const h1s = headings.filter(h => h.tagName === 'H1').length;
if (h1s !== 1) problems.push('expected exactly one h1, found ' + h1s);
let last = 0;
for (const h of headings) {
  const level = Number(h.tagName[1]);
  if (last === 0 && level !== 1) problems.push('first heading is ' + h.tagName + ' "' + h.textContent.trim() + '", not h1');
  if (last !== 0 && level > last + 1) problems.push('heading level skipped: ' + h.tagName + ' "' + h.textContent.trim() + '" after h' + last);
  last = level;
}
// images
for (const img of document.querySelectorAll('img')) {
  if (!img.hasAttribute('alt')) problems.push('img without alt: ' + img.getAttribute('src'));
}
// buttons and links have an accessible name
for (const el of document.querySelectorAll('a[href], button')) {
  if (!visible(el) && !el.classList.contains('skip')) continue;
  const name = (el.getAttribute('aria-label') || el.textContent || '').trim();
  if (!name) problems.push('control without a name: ' + describe(el) + ' ' + (el.getAttribute('href') || ''));
}
// wording: a dangling separator, or "you" with a third-person verb (descriptions turned from "the person's")
for (const el of document.querySelectorAll('main dd, main p, main li, main td, main label, main legend')) {
  const t = el.textContent.replace(/\s+/g, ' ').trim();
  if (/[;,]$/.test(t)) problems.push('text ends with a dangling separator: ' + describe(el) + ' "' + t.slice(-60) + '"');
}
const mainText = (document.querySelector('main') || document.body).innerText;
const wording = [
  ...(mainText.match(/\byou (lives|is|has|was|works|wants|does|goes|owns|rents|occupies|prefers|uses|needs|speaks|holds|earns)\b( [a-z]+){0,2}/gi) || []),
  ...(mainText.match(/\byour [a-z ]{0,40}\bas they (wish|want|prefer)\b( it to be [a-z]+)?/gi) || [])];
for (const phrase of new Set(wording.map(w => w.toLowerCase().trim()))) problems.push('wording: "' + phrase + '"');
// contrast (WCAG 2.x): every visible element with its own text against its effective background
const contrastSeen = {};
for (const el of document.querySelectorAll('body *')) {
  if (['SCRIPT', 'STYLE', 'OPTION'].includes(el.tagName)) continue;
  const ownText = Array.from(el.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
  if (!ownText || !visible(el)) continue;
  const style = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  if (r.right < 0 || r.bottom < 0) continue;  // moved off screen (the skip link before focus)
  const fg = parse(style.color); if (!fg) continue;
  const bg = background(el);
  const colour = blend(fg, bg);
  const l1 = lum(colour), l2 = lum(bg);
  const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const large = size >= 24 || (bold && size >= 18.66);
  const need = large ? 3 : 4.5;
  if (ratio < need) {
    const key = style.color + '/' + bg.join(',');
    if (!contrastSeen[key]) {
      contrastSeen[key] = true;
      problems.push('contrast ' + ratio.toFixed(2) + ':1 < ' + need + ' for ' + describe(el) + ' "' + ownText.slice(0, 40) + '" (' + style.color + ' on rgb(' + bg.slice(0, 3).map(Math.round).join(',') + '))');
    }
  }
}
return problems;
"""

OVERFLOW_JS = r"""
const width = arguments[0];
const total = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
if (total <= width) return null;
// the innermost elements that stick out: outside any scrolling container, or positioned so that it cannot clip them
const scrolls = el => { for (let e = el.parentElement; e; e = e.parentElement) {
  const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; } return false; };
const out = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.right <= width + 1 || r.width === 0 && r.height === 0) continue;
  if (Array.from(el.children).some(c => c.getBoundingClientRect().right > width + 1)) continue;
  const position = getComputedStyle(el).position;
  if (!scrolls(el) || position === 'absolute' || position === 'fixed') {
    out.push(el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).trim().split(/\s+/).join('.') : '') +
             (position === 'absolute' || position === 'fixed' ? ' (' + position + ')' : '') + ' to ' + Math.round(r.right) + 'px');
  }
}
return {width: total, culprits: out.slice(0, 3).join(', ') || 'unknown'};
"""

FOCUS_JS = COLOUR_JS + r"""
const el = document.activeElement;
if (!el || el === document.body) return null;
const style = getComputedStyle(el);
const r = el.getBoundingClientRect();
return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'), cls: el.className, href: el.getAttribute('href'),
        text: (el.textContent || '').trim().slice(0, 40), type: el.getAttribute('type'),
        outlineStyle: style.outlineStyle, outlineWidth: parseFloat(style.outlineWidth), outlineColor: style.outlineColor,
        // the outline is drawn outside the element (outline-offset): against what is behind the element
        outlineContrast: parse(style.outlineColor) ? ratioOf(parse(style.outlineColor), background(el.parentElement || el)) : 0,
        onScreen: r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight};
"""


# --------------------------------------------------------------------------------------------------

class Story:
    def __init__(self, server, artifacts, viewport, failures):
        self.server = server
        self.base = server.base
        self.viewport = viewport
        self.failures = failures
        self.dir = os.path.join(artifacts, viewport)
        os.makedirs(self.dir, exist_ok=True)
        self.shot = 0
        self.secrets = []  # values that must never appear in a URL
        self.headers_checked = set()
        self.driver = self.new_driver()

    # ---- plumbing

    def new_driver(self):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        width, height = VIEWPORTS[self.viewport]
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         f"--window-size={max(width, 800)},{height}", "--force-device-scale-factor=1", "--lang=en-GB",
                         "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
            options.add_argument(argument)
        if self.viewport == "phone":
            # A window cannot be narrower than ~500 px; the phone is emulated (viewport, touch, mobile layout).
            options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": True}})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        return driver

    def screenshot(self, filename):
        """The whole page, not only the viewport (Chrome DevTools Protocol)."""
        try:
            metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            width = self.driver.execute_script("return innerWidth")
            shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(size["height"], 8000), "scale": 1}})
            with open(os.path.join(self.dir, filename), "wb") as handle:
                handle.write(base64.b64decode(shot["data"]))
        except WebDriverException as error:
            self.fail(f"{self.path()}: screenshot failed: {error}")

    def fail(self, message):
        self.failures.add(f"[{self.viewport}] {message}")

    def page_problem(self, problem, where):
        self.failures.add_page(problem, f"[{self.viewport}] {where}")

    def check(self, condition, message):
        if not condition:
            self.fail(message)
        return condition

    def require(self, condition, message):
        if not condition:
            raise Fatal(message)

    def path(self):
        parts = urllib.parse.urlsplit(self.driver.current_url)
        return parts.path + ("?" + parts.query if parts.query else "")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def by_id(self, element_id):
        return self.driver.find_element(By.ID, element_id)

    def text(self):
        return self.find("body").text

    def main_text(self):
        try:
            return self.find("main").text
        except NoSuchElementException:
            return self.text()

    def button(self, label, within=None):
        scope = within or self.driver
        for element in scope.find_elements(By.CSS_SELECTOR, "button, input[type=submit]"):
            if (element.text or element.get_attribute("value") or "").strip() == label:
                return element
        raise Fatal(f"no button labelled {label!r} on {self.path()}")

    def link(self, label=None, href=None):
        for element in self.finds("a[href]"):
            if label is not None and element.text.strip() != label:
                continue
            if href is not None and urllib.parse.urlsplit(element.get_attribute("href")).path != href:
                continue
            return element
        raise Fatal(f"no link {label or ''} {href or ''} on {self.path()}")

    def keys(self, *keys):
        """Types at whatever has the focus, as a person at the keyboard would (no element is clicked first)."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def cookies(self):
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}

    def fill(self, element_id, value):
        element = self.by_id(element_id)
        element.clear()
        element.send_keys(value)
        return element

    def submit(self, label, within=None):
        self.navigating(self.button(label, within).click)

    def follow(self, label=None, href=None):
        self.navigating(self.link(label, href).click)

    @staticmethod
    def gone(element):
        try:
            element.is_enabled()
            return False
        except WebDriverException:  # stale, or its node no longer in the document
            return True

    def navigating(self, action, *args):
        """Runs an action that loads a new page, and waits until the new page has replaced the old one."""
        old = self.find("html")
        action(*args)
        try:
            WebDriverWait(self.driver, 20).until(lambda d: self.gone(old))
            WebDriverWait(self.driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        except TimeoutException:
            raise Fatal(f"no new page loaded within 20 s (still on {self.path()})")

    def status_of_current(self):
        """The HTTP status of the document now shown (Navigation Timing, so also after a form POST)."""
        try:
            return self.driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : null;")
        except WebDriverException:
            return None

    # ---- the checks after every page

    def page(self, name, expect_status=200):
        """Checks the page the browser is on, and saves its screenshot."""
        self.shot += 1
        filename = f"{self.shot:02d}-{name}.png"
        path = self.path()
        self.screenshot(filename)
        where = f"{path} ({filename})"
        status = self.status_of_current()
        if expect_status is not None and status is not None:
            self.check(status == expect_status, f"{where}: answered {status}, expected {expect_status}")
        # console: SEVERE entries, except the browser's own line for a page answered with the error status we expect
        for entry in self.driver.get_log("browser"):
            if entry.get("level") != "SEVERE":
                continue
            message = entry.get("message", "")
            if expect_status and expect_status >= 400 and f"status of {expect_status}" in message and "Failed to load resource" in message:
                continue
            self.page_problem(f"console error: {message}", where)
        for problem in self.driver.execute_script(PAGE_CHECKS_JS):
            self.page_problem(problem, where)
        # a phone's layout viewport widens to fit content that is too wide, so compare with the device's width
        width = VIEWPORTS[self.viewport][0]
        overflow = self.driver.execute_script(OVERFLOW_JS, width)
        if overflow:
            self.page_problem(f"the page is wider than the {width} px {self.viewport} viewport and scrolls sideways "
                              f"({overflow['width']} px; widest: {overflow['culprits']})", where)
        url = urllib.parse.unquote_plus(self.driver.current_url)
        for secret in self.secrets:
            self.check(secret.lower() not in url.lower(), f"{where}: the URL contains personal data {secret!r}: {url}")
        self.check_headers(urllib.parse.urlsplit(self.driver.current_url).path)

    def check_headers(self, path):
        """Fetches the page again (GET, with the browser's cookies) and checks the security headers."""
        if path in self.headers_checked:
            return
        self.headers_checked.add(path)
        status, headers, _ = raw_http(self.base, "GET", path, cookies=self.cookies())
        content_type = ";".join(header(headers, "Content-Type"))
        if not content_type.startswith("text/html"):
            return
        csp = ";".join(header(headers, "Content-Security-Policy"))
        directives = [d.strip() for d in csp.split(";")]
        self.check("default-src 'none'" in directives, f"GET {path}: Content-Security-Policy lacks default-src 'none': {csp!r}")
        self.check(not any("unsafe-inline" in d or "unsafe-eval" in d for d in directives),
                   f"GET {path}: Content-Security-Policy allows unsafe-inline/eval: {csp!r}")
        cache = ";".join(header(headers, "Cache-Control"))
        self.check("no-store" in cache, f"GET {path}: Cache-Control is {cache!r}, expected no-store (pages carry personal data)")
        frame = header(headers, "X-Frame-Options")
        self.check(frame == ["DENY"], f"GET {path}: X-Frame-Options is {frame}, expected DENY")

    def go(self, path, name, expect_status=200):
        self.driver.get(self.base + path)
        self.page(name, expect_status)

    # ---- the story

    def run(self, tag):
        self.handle = f"ada-{tag}"
        self.email = f"ada.{tag}@example.org"
        self.full_name = f"Ada Lovelace-{tag.capitalize()}"
        self.address = {"lines": "12 St James's Square\nFlat 3", "locality": "London", "region": "Greater London",
                        "postalCode": "SW1Y 4JH", "country": "GB"}
        self.record_email = f"ada.records.{tag}@example.net"
        self.secrets = [self.email, self.record_email, self.full_name, PASSWORD, "St James", "SW1Y", "not-an-email"]
        self.prove_console_check()
        self.sign_up()
        self.fill_records()
        self.sign_out()
        self.keyboard_sign_in()
        self.session_cookie()
        org_a, org_b = self.organisations(tag)
        self.decide(org_a, org_b)
        self.read_and_revoke(org_a)
        self.activity(org_a, org_b)
        self.csrf()
        self.others_pages()
        self.tour()

    def prove_console_check(self):
        """The checks must be able to see what they look for: a CSP violation in the console, and faults in a page."""
        self.driver.get(self.base + "/signin")
        self.require(self.driver.execute_script("return 6 * 7") == 42, "ChromeDriver could not run a script in the page")
        width = self.driver.execute_script("return innerWidth")
        self.check(width == VIEWPORTS[self.viewport][0], f"the viewport is {width} px wide, expected {VIEWPORTS[self.viewport][0]}")
        self.driver.execute_script(
            "const m = document.querySelector('main');"
            "m.insertAdjacentHTML('beforeend', '<h4>skipped</h4><h1>second</h1><input id=selftest-unlabelled type=text>"
            "<img src=/static/favicon.svg><p id=selftest-faint>faint</p>');"
            "document.getElementById('selftest-faint').style.color = '#bbb';"
            "document.documentElement.removeAttribute('lang');")
        found = "\n".join(self.driver.execute_script(PAGE_CHECKS_JS))
        for fault in ("no lang", "unlabelled control input#selftest-unlabelled", "exactly one h1", "heading level skipped: H4",
                      "img without alt", "contrast"):
            self.check(fault in found, f"the page checks did not notice an injected fault ({fault!r}); they reported: {found!r}")
        self.driver.get(self.base + "/signin")
        self.driver.get_log("browser")
        self.driver.execute_script(
            "const s = document.createElement('style'); s.textContent = 'body{}'; document.head.appendChild(s);"
            "const i = document.createElement('img'); i.src = 'http://192.0.2.1/x.png'; document.body.appendChild(i);")
        time.sleep(0.3)
        entries = [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]
        self.check(any("Content Security Policy" in e.get("message", "") for e in entries),
                   f"an inline style injected on /signin did not show up as a SEVERE console entry (so the console check is blind): {entries}")
        self.driver.delete_all_cookies()

    def sign_up(self):
        self.go("/", "start")
        self.follow(href="/signup")
        self.page("signup")
        self.require(self.path() == "/signup", f"the start page's sign-up link led to {self.path()}")
        # too short a password
        self.fill("email", self.email)
        self.fill("handle", self.handle)
        self.fill("password", "short")
        self.submit("Create my Proffer")
        self.page("signup-short-password", expect_status=422)
        self.check_field_error("password", "password-error", "signup with a 5-character password")
        self.check(self.by_id("email").get_attribute("value") == self.email, "sign-up did not keep the email after a bad password")
        self.check(self.by_id("handle").get_attribute("value") == self.handle, "sign-up did not keep the handle after a bad password")
        self.check(self.by_id("password").get_attribute("value") == "", "sign-up sent the password back into the page")
        # now properly
        self.fill("password", PASSWORD)
        self.submit("Create my Proffer")
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == "/data",
                     f"after sign-up the browser is on {self.path()}, expected /data")
        self.page("data-welcome")
        self.check(self.handle in self.text(), "the data page does not name the person signed in")

    def check_field_error(self, input_id, error_id, what, typed=None):
        try:
            error = self.by_id(error_id)
        except NoSuchElementException:
            self.fail(f"{what}: no #{error_id} message on {self.path()}")
            return
        self.check(error.is_displayed() and error.text.strip(), f"{what}: #{error_id} is empty or hidden")
        self.check("error" in (error.get_attribute("class") or "").split(), f"{what}: #{error_id} is not p.error")
        field = self.by_id(input_id)
        self.check(field.get_attribute("aria-invalid") == "true", f"{what}: #{input_id} lacks aria-invalid=true")
        described = (field.get_attribute("aria-describedby") or "").split()
        self.check(error_id in described, f"{what}: #{input_id} aria-describedby={described} does not name #{error_id}")
        # next to the field: in the same .field container
        same = self.driver.execute_script(
            "const a = document.getElementById(arguments[0]), b = document.getElementById(arguments[1]);"
            "return !!(a && b && a.closest('.field') && a.closest('.field') === b.closest('.field'));", input_id, error_id)
        self.check(same, f"{what}: #{error_id} is not in the same .field as #{input_id}")
        if typed is not None:
            self.check(field.get_attribute("value") == typed,
                       f"{what}: #{input_id} did not keep what was typed: {field.get_attribute('value')!r} != {typed!r}")

    def open_record(self, key, name):
        """From /data, follows the key's Add/Edit link."""
        self.go("/data", "data-" + name)
        self.follow(href=f"/data/{key}")
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == f"/data/{key}", f"the link to /data/{key} led to {self.path()}")
        self.page("record-" + name)

    def saved(self, key, name):
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == f"/data/{key}",
                     f"saving {key} ended on {self.path()}")
        self.page("record-" + name + "-saved")
        notice = [e.text for e in self.finds("[role=status]")]
        self.check(any("Saved" in t for t in notice), f"saving {key}: no 'Saved' status message ({notice})")

    def fill_records(self):
        # email: first invalid
        self.open_record("contact.email", "email")
        self.fill("f-value", "not-an-email")
        self.submit("Save")
        self.page("record-email-invalid", expect_status=422)
        self.check_field_error("f-value", "f-value-error", "an invalid email on /data/contact.email", typed="not-an-email")
        self.check(self.finds("[role=alert]"), "an invalid email: no summary alert on the page")
        self.fill("f-value", self.record_email)
        self.submit("Save")
        self.saved("contact.email", "email")
        self.check(self.record_email in self.main_text(), "the saved email is not shown in the record's history")
        # full name
        self.open_record("identity.name.full", "name")
        self.fill("f-value", self.full_name)
        self.submit("Save")
        self.saved("identity.name.full", "name")
        # address, first without a town
        self.open_record("address.home", "address")
        for name in ("lines", "locality", "region", "postalCode", "country"):
            self.require(self.finds(f"#f-{name}[name={name}]"), f"/data/address.home has no #f-{name} input named {name}")
        self.check(self.by_id("f-lines").tag_name == "textarea", "/data/address.home: #f-lines is not a textarea")
        for name, value in self.address.items():
            self.fill(f"f-{name}", "" if name == "locality" else value)
        self.submit("Save")
        self.page("record-address-no-town", expect_status=422)
        self.check_field_error("f-locality", "f-locality-error", "an address without a town on /data/address.home", typed="")
        for name, value in self.address.items():
            if name == "locality":
                continue
            kept = self.by_id(f"f-{name}").get_attribute("value").replace("\r\n", "\n")
            self.check(kept == value, f"an address without a town: #f-{name} did not keep what was typed: {kept!r} != {value!r}")
            self.check(self.by_id(f"f-{name}").get_attribute("aria-invalid") != "true", f"an address without a town: #f-{name} is marked invalid")
        self.fill("f-locality", self.address["locality"])
        self.submit("Save")
        self.saved("address.home", "address")
        self.go("/data", "data-filled")
        text = self.main_text()
        for value in (self.record_email, self.full_name, "London"):
            self.check(value in text, f"/data does not show {value!r} after saving it")

    def sign_out(self):
        old_session = self.cookies().get("proffer_session")
        self.submit("Sign out", self.find("form.signout"))
        self.page("signed-out")
        self.check(self.path() == "/", f"signing out led to {self.path()}, expected /")
        self.check(not self.finds("form.signout"), "after signing out the page still shows the sign-out form")
        self.driver.get(self.base + "/data")
        self.check(urllib.parse.urlsplit(self.driver.current_url).path == "/signin",
                   f"/data after signing out led to {self.path()}, expected /signin")
        # signing out ends the session on the server too, not only in this browser
        status, headers, _ = raw_http(self.base, "GET", "/data", cookies={"proffer_session": old_session or ""})
        self.check(status == 303 and header(headers, "Location") == ["/signin"],
                   f"GET /data with the session cookie from before signing out answered {status} {header(headers, 'Location')}, expected 303 to /signin")
        # a wrong password: 401, a message, the email kept, and no session
        self.go("/signin", "signin-before-wrong-password")
        self.fill("email", self.email)
        self.fill("password", "wrong " + PASSWORD)
        self.submit("Sign in")
        self.page("signin-wrong-password", expect_status=401)
        self.check(self.finds("[role=alert]") and "wrong" in self.find("[role=alert]").text.lower(),
                   "a wrong password: no message saying the email or password is wrong")
        self.check(self.by_id("email").get_attribute("value") == self.email, "a wrong password: the email was not kept")
        self.check(self.by_id("password").get_attribute("value") == "", "a wrong password: the password was sent back into the page")
        self.check("proffer_session" not in self.cookies() or not self.cookies()["proffer_session"], "a wrong password set a session cookie")

    def keyboard_sign_in(self):
        self.go("/signin", "signin")
        self.driver.execute_script("window.scrollTo(0, 0); if (document.activeElement) document.activeElement.blur();")
        order = []

        def tab(expect=None):
            self.keys(Keys.TAB)
            focused = self.driver.execute_script(FOCUS_JS)
            order.append(focused)
            if focused:
                label = f"{focused['tag']}#{focused['id'] or focused['name'] or focused['href'] or focused['text']}"
                if focused["outlineStyle"] == "none" or focused["outlineWidth"] <= 0:
                    self.page_problem("a control has no visible focus outline when reached with Tab", f"/signin, focused {label}")
                self.check(focused["onScreen"], f"/signin: the focused {label} is not on screen")
                if focused["outlineStyle"] != "none" and focused["outlineContrast"] < 3:
                    self.failures.add_page(f"the focus outline ({focused['outlineColor']}) has {focused['outlineContrast']:.2f}:1 contrast "
                                           f"with what is behind it, below the 3:1 of WCAG 1.4.11", f"[{self.viewport}] /signin, focused {label}")
            return focused

        first = tab()
        self.check(first and first["tag"] == "a" and (first["href"] or "").startswith("#"),
                   f"/signin: the first Tab reached {first}, expected the skip link")
        self.screenshot(f"{self.shot:02d}-signin-skip-link-focused.png")
        # follow the skip link, then Tab through the form
        self.keys(Keys.ENTER)
        seen = []
        for _ in range(30):
            focused = tab()
            if not focused:
                break
            if focused["id"] in ("email", "password") or (focused["tag"] == "button" and focused["text"] == "Sign in"):
                seen.append(focused["id"] or "button")
                if focused["id"] == "email":
                    self.keys(self.email)
                elif focused["id"] == "password":
                    self.keys(PASSWORD)
                else:
                    break
        self.check(seen == ["email", "password", "button"],
                   f"/signin: after the skip link, Tab reached {seen}, expected email, password, then the Sign in button")
        self.check(order[1:2] and order[1] and order[1]["id"] == "email",
                   f"/signin: the skip link did not take focus to the form (next Tab reached {order[1:2]})")
        self.require(seen[-1:] == ["button"], "could not reach the Sign in button with the keyboard")
        self.navigating(self.keys, Keys.ENTER)
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == "/data",
                     f"keyboard sign-in ended on {self.path()}, expected /data")
        self.page("data-after-keyboard-signin")

    def keyboard_walk(self, where, limit=60):
        """Tabs through the whole page: every control reached shows a visible focus outline, on screen."""
        self.driver.execute_script("window.scrollTo(0, 0); if (document.activeElement) document.activeElement.blur();")
        reached = []
        for _ in range(limit):
            self.keys(Keys.TAB)
            focused = self.driver.execute_script(FOCUS_JS)
            if not focused or (reached and focused == reached[0]):
                break
            reached.append(focused)
            label = f"{focused['tag']}#{focused['id'] or focused['name'] or focused['href'] or focused['text']}"
            if focused["outlineStyle"] == "none" or focused["outlineWidth"] <= 0:
                self.page_problem("a control has no visible focus outline when reached with Tab", f"{where}, focused {label}")
            elif focused["outlineContrast"] < 3:
                self.page_problem(f"the focus outline ({focused['outlineColor']}) has {focused['outlineContrast']:.2f}:1 contrast "
                                  f"with what is behind it, below the 3:1 of WCAG 1.4.11", f"{where}, focused {label}")
            if not focused["onScreen"]:
                self.page_problem("a control reached with Tab is not on screen", f"{where}, focused {label}")
        self.check(len(reached) >= 3, f"{where}: Tab reached only {len(reached)} controls")
        return reached

    def session_cookie(self):
        cookie = next((c for c in self.driver.get_cookies() if c["name"] == "proffer_session"), None)
        self.require(cookie, "no proffer_session cookie after signing in")
        self.check(cookie.get("httpOnly") is True, f"proffer_session is not HttpOnly: {cookie}")
        self.check(cookie.get("sameSite") == "Lax", f"proffer_session is not SameSite=Lax: {cookie}")
        self.check(not self.driver.execute_script("return document.cookie.includes('proffer_session')"),
                   "the page's script can read proffer_session")
        # and on the wire, from the sign-in answer itself
        status, headers, html = raw_http(self.base, "GET", "/signin")
        csrf_cookie = next((v.split(";")[0].split("=", 1)[1] for v in header(headers, "Set-Cookie") if v.startswith("proffer_csrf=")), None)
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        self.require(csrf_cookie and match, "GET /signin set no proffer_csrf cookie or has no csrf field")
        status, headers, _ = raw_http(self.base, "POST", "/signin", cookies={"proffer_csrf": csrf_cookie},
                                      form={"csrf": match.group(1), "email": self.email, "password": PASSWORD})
        self.check(status == 303, f"POST /signin answered {status}, expected 303")
        session = [v for v in header(headers, "Set-Cookie") if v.startswith("proffer_session=")]
        self.check(session and "httponly" in session[0].lower() and "samesite=lax" in session[0].lower(),
                   f"POST /signin set proffer_session without HttpOnly; SameSite=Lax: {session}")

    def organisations(self, tag):
        """Two organisations ask the person for data through the API."""
        server = self.server
        self.org_a_name, self.org_b_name = f"Northwind Lending {tag}", f"Contoso Mail {tag}"
        a_id, a_token = server.organisation(self.org_a_name, f"northwind-{tag}.example", fund=100_000)
        b_id, b_token = server.organisation(self.org_b_name, f"contoso-{tag}.example")
        terms = ["no-stalking", "max-retention", "no-sale", "breach-notification"]
        status, asked = call(self.base, "POST", "/v1/requests", a_token, {
            "person": self.handle, "keys": ["contact.email", "identity.name.full", "address.home"],
            "purpose": "CreditChecking", "retentionDays": 365, "durationDays": 90,
            "thirdParties": [{"name": "Credit Agency Ltd", "purpose": "credit scoring"}],
            "reason": "To assess your mortgage application.", "acceptedTerms": terms,
            "offer": {"kind": "per-disclosure", "price": {"amount": 40, "currency": "EUR"}}})
        self.require(status == 201, f"{self.org_a_name}'s request answered {status}: {asked}")
        self.require(asked.get("state") == "pending", f"{self.org_a_name}'s request is {asked.get('state')}, expected pending (terms?)")
        status, asked_b = call(self.base, "POST", "/v1/requests", b_token, {
            "person": self.handle, "keys": ["contact.email"], "purpose": "ServiceProvision", "retentionDays": 30,
            "durationDays": 30, "thirdParties": [], "reason": "To send you your newsletter.", "acceptedTerms": terms})
        self.require(status == 201 and asked_b.get("state") == "pending", f"{self.org_b_name}'s request answered {status}: {asked_b}")
        status, purposes = call(self.base, "GET", "/v1/purposes")
        self.purpose = next((p for p in (purposes or {}).get("items", []) if p["id"] == "CreditChecking"), {"label": "Credit checking"})
        self.org_a = a_id
        self.org_a_request = asked["id"]
        return ({"id": a_id, "token": a_token, "request": asked["id"], "name": self.org_a_name},
                {"id": b_id, "token": b_token, "request": asked_b["id"], "name": self.org_b_name})

    def decide(self, org_a, org_b):
        self.go("/requests", "requests")
        inbox = self.main_text()
        self.check(org_a["name"] in inbox and org_b["name"] in inbox, f"/requests does not list both organisations: {inbox[:300]!r}")
        self.follow(href=f"/requests/{org_a['request']}")
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == f"/requests/{org_a['request']}",
                     f"the inbox link led to {self.path()}")
        self.page("request")
        text = self.main_text()
        lower = text.lower()
        where = f"/requests/{org_a['request']}"
        self.check(org_a["name"] in text, f"{where} does not name the organisation {org_a['name']!r}")
        self.check(self.purpose["label"].lower() in lower or self.purpose.get("description", "\0").lower() in lower,
                   f"{where} does not give the purpose in words ({self.purpose['label']!r})")
        self.check("mortgage application" in lower, f"{where} does not show the organisation's reason")
        self.check(re.search(r"\b90 days\b", lower), f"{where} does not say the duration asked (90 days)")
        self.check(re.search(r"\b365 days\b|\b1 year\b|\bone year\b|\b12 months\b", lower), f"{where} does not say how long they keep it (365 days)")
        self.check("credit agency ltd" in lower, f"{where} does not say it passes the data on to Credit Agency Ltd")
        self.check(re.search(r"0\.40|€\s?0\.40|40 cents", text), f"{where} does not say what they pay (0.40 EUR per disclosure)")
        self.check(re.search(r"per (disclosure|read)|each (time|read)|every (time|read)", lower), f"{where} does not say the price is per disclosure")
        reached = self.keyboard_walk(where)
        self.check(any(f["id"] == "key-address.home" for f in reached) and any(f["id"] == "f-durationDays" for f in reached),
                   f"{where}: Tab does not reach the key checkboxes and the duration")
        for term in ("No stalking", "Maximum retention", "No sale", "Breach notification"):
            self.check(term.lower() in lower, f"{where} does not say whether the request keeps the person's term {term!r}")
        self.check(re.search(r"keeps all your terms|kept", lower), f"{where} does not say that the request keeps the person's terms")
        for key in ("contact.email", "identity.name.full", "address.home"):
            box = self.finds(f'input[type=checkbox][name=keys][value="{key}"]')
            self.require(box, f"{where} has no checkbox for {key}")
            self.check(box[0].get_attribute("id") == f"key-{key}", f"{where}: the checkbox for {key} has id {box[0].get_attribute('id')!r}, expected key-{key}")
        # grant two of three, for 30 days instead of 90
        box = self.by_id("key-address.home")
        if box.is_selected():
            box.click()
        for key in ("contact.email", "identity.name.full"):
            if not self.by_id(f"key-{key}").is_selected():
                self.by_id(f"key-{key}").click()
        duration = self.by_id("f-durationDays")
        self.check(duration.get_attribute("value") == "90", f"{where}: #f-durationDays starts at {duration.get_attribute('value')!r}, expected 90")
        self.fill("f-durationDays", "30")
        self.submit("Grant selected")
        self.page("request-granted")
        self.check("Refuse" not in [b.text for b in self.finds("button")] or "/requests/" not in self.path(),
                   "after granting, the page still offers to refuse")
        # refuse the other one, with a reason
        self.go(f"/requests/{org_b['request']}", "request-b")
        self.require(org_b["name"] in self.main_text(), f"/requests/{org_b['request']} does not name {org_b['name']}")
        self.fill("reason", "I do not want a newsletter.") if self.finds("#reason") else \
            self.find("textarea[name=reason]").send_keys("I do not want a newsletter.")
        self.submit("Refuse")
        self.page("request-b-refused")
        status, state = call(self.base, "GET", f"/v1/requests/{org_b['request']}", org_b["token"])
        self.check(status == 200 and state.get("state") == "refused", f"{org_b['name']}'s request is {state} after refusing it in the browser")

    def read_and_revoke(self, org):
        status, request = call(self.base, "GET", f"/v1/requests/{org['request']}", org["token"])
        self.require(status == 200 and request.get("grantId"), f"the organisation sees its request as {status} {request}")
        grant = request["grantId"]
        status, data = call(self.base, "GET", f"/v1/grants/{grant}/data", org["token"], headers={"Idempotency-Key": "read-1-" + grant})
        self.require(status == 200, f"the organisation's read answered {status}: {data}")
        got = {r["key"]: r["value"] for r in data["records"]}
        self.check(sorted(got) == ["contact.email", "identity.name.full"] and not data.get("missing"),
                   f"the organisation got keys {sorted(got)} (missing {data.get('missing')}), expected exactly contact.email and identity.name.full")
        self.check(got.get("contact.email") == self.record_email, f"the organisation got email {got.get('contact.email')!r}, typed {self.record_email!r}")
        self.check(got.get("identity.name.full") == self.full_name, f"the organisation got name {got.get('identity.name.full')!r}, typed {self.full_name!r}")
        expires = datetime.datetime.fromisoformat(data["expiresAt"].replace("Z", "+00:00"))
        days = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds() / 86400
        self.check(29 < days <= 30.01, f"the grant expires in {days:.2f} days, expected the 30 days chosen in the browser")
        # the person finds it under "who has my data"
        self.go("/grants", "grants")
        self.check(org["name"] in self.main_text(), f"/grants does not list {org['name']}")
        self.follow(href=f"/grants/{grant}")
        self.require(urllib.parse.urlsplit(self.driver.current_url).path == f"/grants/{grant}", f"the /grants link led to {self.path()}")
        self.page("grant")
        text = self.main_text()
        self.check(org["name"] in text, f"/grants/{grant} does not name {org['name']}")
        receipts = [a.get_attribute("href") for a in self.finds("a[href]") if re.search(r"/receipts/[^/]+\.jws$", a.get_attribute("href"))]
        if self.check(receipts, f"/grants/{grant} links no receipt (/receipts/{{id}}.jws)"):
            status, headers, body = raw_http(self.base, "GET", urllib.parse.urlsplit(receipts[0]).path, cookies=self.cookies())
            self.check(status == 200 and re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\s*", body),
                       f"the receipt link {receipts[0]} answered {status} with {body[:80]!r}, expected a compact JWS")
        self.follow(href=f"/grants/{grant}/revoke")
        self.page("grant-revoke-confirm")
        self.check(self.path() == f"/grants/{grant}/revoke", f"'Revoke access' led to {self.path()}")
        status, data = call(self.base, "GET", f"/v1/grants/{grant}/data", org["token"], headers={"Idempotency-Key": "read-2-" + grant})
        self.check(status == 200, f"the confirmation page alone revoked the grant (read answered {status})")
        self.submit("Yes, revoke access")
        self.page("grant-revoked")
        status, problem = call(self.base, "GET", f"/v1/grants/{grant}/data", org["token"], headers={"Idempotency-Key": "read-3-" + grant})
        self.check(status == 403 and isinstance(problem, dict) and problem.get("type", "").endswith("/grant-revoked"),
                   f"the organisation's read after revoking answered {status} {problem}, expected 403 grant-revoked")
        self.go("/grants", "grants-after-revoke")
        self.check("revoked" in self.main_text().lower(), "/grants does not show the revoked grant as revoked")
        self.grant = grant

    def timeline(self):
        return [li.text for li in self.finds("ol.timeline > li")]

    def activity(self, org_a, org_b):
        self.go("/activity", "activity")
        self.keyboard_walk("/activity")
        items = self.timeline()
        self.require(items, "/activity shows no ol.timeline > li")
        joined = "\n".join(items).lower()
        a_items = [t.lower() for t in items if org_a["name"] in t]
        for what, pattern in [("the request received", r"\b(asked|request(ed)?|received)\b"), ("the grant", r"\bgrant(ed)?\b"),
                              ("the disclosure", r"\b(read|disclos(ed|ure)|sent|shared)\b"), ("the revocation", r"\brevoked?\b")]:
            self.check(any(re.search(pattern, t) for t in a_items),
                       f"/activity shows no entry for {what} by {org_a['name']} (entries naming it: {a_items})")
        kinds = [li.get_attribute("data-kind") for li in self.finds("ol.timeline > li")]
        for kind in ("request.received", "request.granted", "disclosure", "grant.revoked", "request.refused", "record.put"):
            self.check(kind in kinds, f"/activity has no entry of kind {kind} (data-kind values: {sorted(set(kinds))})")
        self.check(any(re.search(r"\brefused?\b", t.lower()) for t in items if org_b["name"] in t),
                   f"/activity does not show the refusal of {org_b['name']}'s request")
        self.check(self.email not in joined and PASSWORD not in joined, "/activity shows the sign-in email or password")
        # filter by organisation
        form = self.find("form[method=get], form:not([method])")
        select = Select(self.find("select[name=organisation]"))
        option = next((o for o in select.options if org_a["name"] in o.text), None)
        self.require(option is not None, f"/activity's organisation filter has no option for {org_a['name']}: {[o.text for o in select.options]}")
        select.select_by_visible_text(option.text)
        self.submit("Filter", form)
        self.page("activity-by-organisation")
        filtered = self.timeline()
        self.check(filtered and len(filtered) < len(items), f"filtering /activity by {org_a['name']} left {len(filtered)} of {len(items)} entries")
        self.check(all(org_b["name"] not in t for t in filtered), f"filtering /activity by {org_a['name']} still shows {org_b['name']}")
        self.check(all(org_a["name"] in t for t in filtered), f"filtering /activity by {org_a['name']} shows entries not naming it")
        self.check("organisation=" in self.path(), f"the activity filter is not a GET form (URL {self.path()})")
        # then by kind
        select = Select(self.find("select[name=kind]"))
        option = next((o for o in select.options if o.get_attribute("value") == "disclosure"), None) or \
            next((o for o in select.options if re.search(r"disclos|read", o.text, re.I)), None)
        self.require(option is not None, f"/activity's kind filter has no disclosure option: {[o.text for o in select.options]}")
        kind, option_value = option.text, option.get_attribute("value")
        select.select_by_visible_text(kind)
        self.submit("Filter", self.find("form[method=get], form:not([method])"))
        self.page("activity-by-kind")
        narrowed = self.timeline()
        narrowed_kinds = {li.get_attribute("data-kind") for li in self.finds("ol.timeline > li")}
        self.check(narrowed_kinds <= {option_value, None} if option_value else True,
                   f"filtering /activity by kind {option_value!r} shows kinds {narrowed_kinds}")
        self.check(narrowed and len(narrowed) < len(filtered), f"filtering /activity by kind {kind!r} left {len(narrowed)} of {len(filtered)} entries")
        self.check(all(not re.search(r"\brevoked?\b", t.lower()) for t in narrowed), f"filtering /activity by kind {kind!r} still shows the revocation")
        self.check(all(org_a["name"] in t for t in narrowed), f"filtering /activity by kind {kind!r} forgot the organisation filter")
        chosen = Select(self.find("select[name=organisation]")).first_selected_option.text
        self.check(org_a["name"] in chosen, f"the activity filter forgot the selected organisation (shows {chosen!r})")
        self.check(Select(self.find("select[name=kind]")).first_selected_option.text == kind, "the activity filter forgot the selected kind")

    def csrf(self):
        """A form posted without its csrf field is refused and changes nothing."""
        cookies = self.cookies()
        # an error page (422) carries the same headers as any other
        status, headers, html = raw_http(self.base, "GET", "/data/contact.email", cookies=cookies)
        token = re.search(r'name="csrf" value="([^"]+)"', html)
        self.require(status == 200 and token, f"GET /data/contact.email answered {status} without a csrf field")
        status, headers, html = raw_http(self.base, "POST", "/data/contact.email", cookies=cookies, form={"csrf": token.group(1), "value": "still not an email"})
        self.check(status == 422, f"POST /data/contact.email with an invalid email answered {status}, expected 422")
        self.check("default-src 'none'" in ";".join(header(headers, "Content-Security-Policy")) and header(headers, "X-Frame-Options") == ["DENY"],
                   f"the 422 page for an invalid email lacks the security headers: {headers}")
        for path, form in [(f"/data/contact.email", {"value": "attacker@example.com"}), ("/signout", {}),
                           ("/data/identity.name.full/delete", {})]:
            status, headers, body = raw_http(self.base, "POST", path, cookies=cookies, form=form)
            self.check(status == 403, f"POST {path} without the csrf field answered {status}, expected 403")
            self.check(header(headers, "Content-Security-Policy") and header(headers, "X-Frame-Options") == ["DENY"],
                       f"the 403 page for POST {path} lacks the security headers")
            status, _, _ = raw_http(self.base, "POST", path, cookies=cookies, form={**form, "csrf": "x" * 43})
            self.check(status == 403, f"POST {path} with a wrong csrf field answered {status}, expected 403")
        self.go("/data/contact.email", "record-email-after-csrf")
        self.check(self.by_id("f-value").get_attribute("value") == self.record_email, "a POST without csrf changed contact.email")
        self.go("/data/identity.name.full", "record-name-after-csrf")
        self.check(self.by_id("f-value").get_attribute("value") == self.full_name, "a POST without csrf deleted identity.name.full")
        self.check(self.finds("form.signout"), "a POST /signout without csrf signed the person out")
        # and a real 403 page in the browser looks right: a forged form from another page, submitted by the browser
        self.navigating(self.driver.execute_script,
            "const f = document.createElement('form'); f.method = 'post'; f.action = '/data/contact.email';"
            "const i = document.createElement('input'); i.type = 'hidden'; i.name = 'value'; i.value = 'attacker@example.com';"
            "f.appendChild(i); document.body.appendChild(f); f.submit();")
        self.page("csrf-refused", expect_status=403)
        self.check(self.finds("[role=alert]"), "the 403 page for a forged form has no message")
        self.driver.get(self.base + "/data/contact.email")
        self.check(self.by_id("f-value").get_attribute("value") == self.record_email, "the forged form changed contact.email")

    def others_pages(self):
        """Another person's request and grant pages are not this person's to see or act on."""
        mine = {"request": self.org_a_request, "grant": self.grant}
        others = self.server.seen.get("others")
        self.server.seen["others"] = {**mine, "org": self.org_a_name, "by": self.viewport}
        if not others:
            return
        cookies = self.cookies()
        for path in (f"/requests/{others['request']}", f"/grants/{others['grant']}", f"/grants/{others['grant']}/revoke"):
            status, _, html = raw_http(self.base, "GET", path, cookies=cookies)
            self.check(status == 404 and others["org"] not in html,
                       f"GET {path} (a page of the {others['by']} pass's person) answered {status} to another person, expected 404 without its details")
        token = re.search(r'name="csrf" value="([^"]+)"', raw_http(self.base, "GET", "/data", cookies=cookies)[2])
        for path, form in ((f"/requests/{others['request']}/refuse", {}), (f"/grants/{others['grant']}/revoke", {})):
            status, _, _ = raw_http(self.base, "POST", path, cookies=cookies, form={**form, "csrf": token.group(1) if token else ""})
            self.check(status in (404, 403), f"POST {path} (another person's) answered {status}, expected 404")
        self.go(f"/grants/{others['grant']}", "others-grant", expect_status=404)

    def tour(self):
        """The later pages: screenshot and check them where they exist."""
        for name, path in LATER_PAGES:
            status, _, _ = raw_http(self.base, "GET", path, cookies=self.cookies())
            if status == 404:
                print(f"note: [{self.viewport}] {path} answers 404; not in the tour yet", flush=True)
                continue
            self.go(path, "tour-" + name)
        # the organisation console, signed in with the first organisation's client credentials
        if raw_http(self.base, "GET", "/org/signin")[0] == 404:
            print(f"note: [{self.viewport}] /org/signin answers 404; the organisation console is not in the tour yet", flush=True)
        else:
            client_id, secret = self.server.credentials[self.org_a]
            self.go("/org/signin", "org-signin")
            self.fill("f-clientId", client_id)
            self.fill("f-clientSecret", secret)
            self.submit("Open the console")
            self.check(urllib.parse.urlsplit(self.driver.current_url).path == "/org", f"signing in to the console ended on {self.path()}")
            self.page("org-console")
            self.check(self.org_a_name in self.main_text(), f"the organisation console does not name {self.org_a_name}")
            self.check(secret not in self.driver.current_url and secret not in self.driver.page_source,
                       "the organisation console shows its client secret")
            console = next((c for c in self.driver.get_cookies() if c["name"] == "proffer_org"), None)
            self.check(console and console.get("httpOnly") and console.get("sameSite") == "Lax",
                       f"the console cookie proffer_org is not HttpOnly + SameSite=Lax: {console}")

    def close(self):
        try:
            self.driver.quit()
        except Exception:
            pass


# --------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=".build/debug/proffer")
    parser.add_argument("--database", default="", help="postgres:// URL; SQLite in the data directory when empty")
    parser.add_argument("--artifacts", default=None, help="screenshots go here (default artifacts/browser-<engine>)")
    parser.add_argument("--viewports", default="desktop,phone", help="comma-separated: desktop, phone")
    parser.add_argument("--keep", action="store_true", help="keep the server's work directory")
    args = parser.parse_args()

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            sys.exit(f"FAIL: {path} is missing (apt-get install chromium chromium-driver)")
    engine = "postgres" if args.database else "sqlite"
    artifacts = args.artifacts or os.path.join("artifacts", f"browser-{engine}")
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(artifacts, exist_ok=True)
    work = tempfile.mkdtemp(prefix="proffer-browser.")
    server = Server(os.path.abspath(args.bin), args.database, work)
    failures = Failures()
    started = time.time()
    try:
        server.start()
        print(f"browser story [{engine}]: server on {server.base}, data in {work}, screenshots in {artifacts}", flush=True)
        for viewport in args.viewports.split(","):
            story = Story(server, artifacts, viewport, failures)
            began = time.time()
            try:
                story.run(viewport)
            except Fatal as error:
                story.fail(f"stopped at {story.path()}: {error}")
                story.screenshot("zz-stopped.png")
            except Exception as error:  # a Selenium error, a missing element: report where it happened
                story.fail(f"stopped at {story.path()}: {type(error).__name__}: {error}".strip())
                traceback.print_exc()
                try:
                    story.screenshot("zz-stopped.png")
                except Exception:
                    pass
            finally:
                story.close()
            print(f"browser story [{engine}/{viewport}]: {story.shot} pages checked in {time.time() - began:.1f} s", flush=True)
    except Fatal as error:
        failures.add(str(error))
    finally:
        code = server.stop()
        if code not in (0, None):
            failures.add(f"the server exited {code} on SIGTERM")
        if failures:
            with open(server.log_path, "rb") as handle:
                tail = handle.read()[-4000:].decode(errors="replace")
            print(f"server log ({server.log_path}), last lines:\n{tail}")
        if not args.keep and not failures:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.time() - started
    if failures:
        lines = failures.lines()
        print(f"\nbrowser story [{engine}]: {len(lines)} failed checks in {elapsed:.1f} s:")
        for line in lines:
            print("  - " + line)
        sys.exit(1)
    print(f"browser story [{engine}]: every check passed in {elapsed:.1f} s; screenshots in {artifacts}")


if __name__ == "__main__":
    main()

