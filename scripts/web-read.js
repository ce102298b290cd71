// web-read.js - the browser test harness (run by scripts/web-read): serves build/web on a local
// port, opens it in headless Chromium whose fake camera plays a .y4m file, and writes the page's
// JSON lines (the schema of `digits live --json`) until enough frames are read. Every request the
// page makes must stay inside build/web; anything else fails the run.
//   node scripts/web-read.js Y4M OUT.jsonl [--frames N] [--photo IMAGE OUT.json]
//                            [--deny] [--screenshot OUT.png] [--timeout SECONDS] [--pixels DIR]
//                            [--fresh]
// --pixels DIR saves the RGBA of each frame read as DIR/NNNN.png (in the order of the frame
// lines), so the native reader can be run on exactly the pixels the page read.
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const root = path.resolve(__dirname, '..');
const puppeteer = require(path.join(root, 'build/npm/node_modules/puppeteer-core'));

function usage(msg) {
  console.error(`web-read: ${msg}\nusage: web-read.js Y4M OUT.jsonl [--frames N] [--photo IMAGE OUT.json] [--deny] [--screenshot OUT.png] [--timeout S] [--pixels DIR] [--fresh]`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length < 2) usage('a .y4m video and an output file are needed');
const [y4m, outPath] = args;
const opt = { frames: 60, timeout: 120, deny: false, photo: null, photoOut: null, shot: null,
              pixels: null, fresh: false };
for (let i = 2; i < args.length; i++) {
  if (args[i] === '--frames') opt.frames = parseInt(args[++i], 10);
  else if (args[i] === '--timeout') opt.timeout = parseFloat(args[++i]);
  else if (args[i] === '--deny') opt.deny = true;
  else if (args[i] === '--photo') { opt.photo = path.resolve(args[++i]); opt.photoOut = args[++i]; }
  else if (args[i] === '--screenshot') opt.shot = args[++i];
  else if (args[i] === '--pixels') opt.pixels = args[++i];
  else if (args[i] === '--fresh') opt.fresh = true;
  else usage(`unknown option '${args[i]}'`);
}
if (!(opt.frames > 0)) usage('--frames wants a whole number of at least 1');
if (!fs.existsSync(y4m)) usage(`${y4m} does not exist`);
if (opt.photo && !fs.existsSync(opt.photo)) usage(`${opt.photo} does not exist`);

const webDir = path.join(root, 'build/web');
const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
                '.safetensors': 'application/octet-stream' };
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
  const file = path.join(webDir, rel);
  if (!file.startsWith(webDir + path.sep) || !fs.existsSync(file)) {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});

// Writes text to file under a temporary name, then renames it: never half a file.
function writeAtomic(file, text) {
  fs.writeFileSync(file + '.tmp', text);
  fs.renameSync(file + '.tmp', file);
}

function chromium() {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'])
    if (p && fs.existsSync(p)) return p;
  console.error('web-read: chromium not found (scripts/install-deps --web installs it)');
  process.exit(1);
}

(async () => {
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}/`;
  const camera = opt.deny ? [] : ['--use-fake-ui-for-media-stream'];
  const browser = await puppeteer.launch({
    executablePath: chromium(), headless: true,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', ...camera,
           `--use-file-for-fake-video-capture=${path.resolve(y4m)}`, '--autoplay-policy=no-user-gesture-required'],
  });
  let failed = null;
  const fail = (msg) => { if (!failed) failed = msg; };
  const timer = setTimeout(() => fail(`timed out after ${opt.timeout} s`), opt.timeout * 1000);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    if (opt.deny) {
      const ctx = browser.defaultBrowserContext();
      await ctx.overridePermissions(base, []);
    }
    await page.setRequestInterception(true);
    const outside = [];
    page.on('request', (r) => {
      const u = r.url();
      if (u.startsWith(base) || u.startsWith('data:') || u.startsWith('blob:')) r.continue();
      else { outside.push(u); r.abort(); }
    });
    page.on('pageerror', (e) => fail(`page error: ${e.message}`));
    const lines = [];
    let frames = 0, cameraError = null, photoLine = null, saved = 0;
    if (opt.pixels) {
      fs.mkdirSync(opt.pixels, { recursive: true });
      await page.exposeFunction('digitsPixels', (url) => {
        if (saved >= opt.frames) return;
        const png = Buffer.from(url.slice(url.indexOf(',') + 1), 'base64');
        fs.writeFileSync(path.join(opt.pixels, String(saved++).padStart(4, '0') + '.png'), png);
      });
    }
    page.on('console', (m) => {
      const t = m.text();
      if (!t.startsWith('DIGITS ')) return;
      const line = t.slice(7);
      let j;
      try { j = JSON.parse(line); } catch (e) { fail(`not JSON: ${line.slice(0, 80)}`); return; }
      if (j.event === 'camera-error') cameraError = j.name;
      else if (j.event === 'error') fail(`reader error: ${j.text}`);
      else if (photoLine === null && opt.photo && 'width' in j && !('frame' in j)) photoLine = line;
      else if (frames < opt.frames || !('frame' in j)) { lines.push(line); if ('frame' in j) frames++; }
    });
    await page.goto(base + 'index.html?test' + (opt.fresh ? '&fresh' : ''), { waitUntil: 'load' });
    const want = () => (opt.deny ? cameraError !== null : frames >= opt.frames);
    // the pixels arrive just before their frame's lines: the same count when both are done
    while (!want() && !failed) await new Promise((ok) => setTimeout(ok, 50));
    if (opt.photo && !failed) {
      const input = await page.$('#photo');
      await input.uploadFile(opt.photo);
      while (photoLine === null && !failed) await new Promise((ok) => setTimeout(ok, 50));
    }
    if (opt.shot && !failed) await page.screenshot({ path: opt.shot });
    const message = await page.$eval('#message', (e) => (e.hidden ? '' : e.textContent));
    if (outside.length) fail(`requests outside build/web: ${outside.slice(0, 3).join(', ')}`);
    if (failed) throw new Error(failed);
    writeAtomic(outPath, lines.join('\n') + (lines.length ? '\n' : ''));
    if (opt.photo) writeAtomic(opt.photoOut, photoLine + '\n');
    const ms = lines.map((l) => JSON.parse(l)).filter((j) => 'ms' in j).map((j) => j.ms).sort((a, b) => a - b);
    const med = ms.length ? ms[Math.floor(ms.length / 2)] : 0;
    console.log(JSON.stringify({ frames, median_ms: med, camera_error: cameraError, message }));
  } catch (e) {
    console.error(`web-read: ${e.message}`);
    process.exitCode = 1;
  } finally {
    clearTimeout(timer);
    await browser.close();
    server.close();
  }
})();
