// Headless Chromium (Debian's, never a downloaded one) loads each page at each width in light and
// dark mode, opens every <details>, runs axe-core and measures the layout.
// Usage: node browser_audit.js CHROMIUM PROFILE_DIR RESULT.json PAGE.html...
// Needs puppeteer-core and axe-core on NODE_PATH.
"use strict";
const fs = require("fs");
const puppeteer = require("puppeteer-core");
const axe = require("axe-core");

const [chromium, profile, resultPath, ...pages] = process.argv.slice(2);
const WIDTHS = [1280, 390];
const SCHEMES = ["light", "dark"];

function layout() {
  // Runs in the page: sideways scrolling, and table cells squeezed too narrow to read.
  for (const details of document.querySelectorAll("details")) details.open = true;
  const root = document.documentElement;
  // A cell is squeezed when a text in it breaks inside words into lines of a few characters.
  const narrow = [];
  for (const cell of document.querySelectorAll("td, th")) {
    if (cell.querySelector("table") || !cell.getClientRects().length) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (!text) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
      if (lines > text.split(/\s+/).length && text.length / lines < 8) {
        narrow.push({ width: Math.round(cell.getBoundingClientRect().width), lines, text: text.slice(0, 40) });
        break;
      }
    }
  }
  const scrollers = [];
  for (const element of document.querySelectorAll("*")) {
    const style = getComputedStyle(element);
    if (element.scrollWidth > element.clientWidth + 1 && ["auto", "scroll"].includes(style.overflowX)) {
      scrollers.push({ tag: element.tagName, cls: element.className && String(element.className),
                       tabindex: element.getAttribute("tabindex") });
    }
  }
  const tallest = Math.max(0, ...[...document.querySelectorAll(".result, .panel, tr")].map((e) => e.offsetHeight));
  return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, narrow, scrollers, tallest };
}

(async () => {
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  const results = [];
  try {
    for (const path of pages) {
      for (const width of WIDTHS) {
        for (const scheme of SCHEMES) {
          const page = await browser.newPage();
          const requests = [];
          page.on("request", (request) => requests.push(request.url()));
          await page.setViewport({ width, height: 900 });
          await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
          await page.goto("file://" + path, { waitUntil: "load" });
          const measured = await page.evaluate(layout);
          await page.evaluate(axe.source);
          const audit = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
          const violations = audit.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, summary: n.failureSummary })),
          }));
          results.push({ page: path, width, scheme, requests, violations, axe: axe.version, ...measured });
          await page.close();
        }
      }
    }
    results.push({ browser: await browser.version() });
  } finally {
    await browser.close();
  }
  fs.writeFileSync(resultPath, JSON.stringify(results, null, 1));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
