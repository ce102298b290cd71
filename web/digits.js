/* digits.js - the camera page (index.html) and, loaded as a Web Worker, the reader behind it.
 * The worker runs the C reader compiled to WebAssembly (digits-wasm.js, web/wasm.c): it gets
 * RGBA frames and answers with the JSON lines `digits live --json` prints. The page grabs the
 * newest camera frame whenever the worker is free, and draws each frame with its own reading
 * (boxes never lag the picture), the 28x28 inputs, the locked numbers and the status line.
 * With ?test in the URL every line is also logged to the console as "DIGITS <line>" for
 * scripts/web-read, which may also ask for each frame's pixels (window.digitsPixels); with ?fresh
 * every frame is read afresh (`digits live --fresh`). Nothing is fetched from outside this
 * folder. */
'use strict';

if (typeof window === 'undefined') {
  /* ---- the worker ---------------------------------------------------------------------------- */
  importScripts('digits-wasm.js');
  let M = null;
  const ready = (async () => {
    const res = await fetch('fast.safetensors');
    if (!res.ok) throw new Error('the model fast.safetensors could not be loaded');
    const model = new Uint8Array(await res.arrayBuffer());
    M = await createDigits();
    const p = M._malloc(model.length);
    M.HEAPU8.set(model, p);
    const fresh = new URLSearchParams(self.location.search).has('fresh') ? 1 : 0;
    const rc = M._web_open(p, model.length, 30, fresh);
    M._free(p);
    if (rc) throw new Error(M.UTF8ToString(M._web_errmsg()));
  })();
  onmessage = async (e) => {
    const m = e.data;
    try {
      await ready;
    } catch (err) {
      postMessage({ type: 'error', text: String(err.message || err) });
      return;
    }
    if (m.type === 'reset') {
      M._web_reset();
      return;
    }
    const buf = M._web_frame(m.width, m.height);
    const t0 = performance.now();
    let out = 0;
    if (buf) {
      M.HEAPU8.set(new Uint8Array(m.pixels), buf);
      out = m.type === 'photo' ? M._web_read_photo(m.width, m.height)
                               : M._web_read(m.width, m.height, m.frame, m.t);
    }
    const ms = performance.now() - t0;
    if (!out) {
      postMessage({ type: 'error', text: M.UTF8ToString(M._web_errmsg()), pixels: m.pixels },
                  [m.pixels]);
      return;
    }
    const text = M.UTF8ToString(out);
    const first = JSON.parse(text.slice(0, text.indexOf('\n') < 0 ? text.length : text.indexOf('\n')));
    const inputs = [];
    for (let i = 0; i < first.digits.length && i < 9; i++) {
      const p = M._web_input(i) >> 2;
      inputs.push(M.HEAPF32.slice(p, p + 784));
    }
    postMessage({ type: m.type, text, ms, inputs, pixels: m.pixels }, [m.pixels]);
  };
} else {
  /* ---- the page ------------------------------------------------------------------------------ */
  const $ = (id) => document.getElementById(id);
  const screen = $('screen'), ctx = screen.getContext('2d');
  const video = $('video');
  const grab = document.createElement('canvas'), gctx = grab.getContext('2d', { willReadFrequently: true });
  const test = new URLSearchParams(location.search).has('test');
  const worker = new Worker('digits.js' + (new URLSearchParams(location.search).has('fresh') ? '?fresh' : ''));
  const st = { busy: false, paused: false, mirror: false, facing: 'environment', stream: null,
               frame: 0, t0: 0, photo: false, reads: [], ms: 0, locked: [], spare: null };

  const say = (text) => { const m = $('message'); m.textContent = text; m.hidden = !text; };
  const status = (text) => { $('status').textContent = text; };
  const log = (line) => { if (test) console.log('DIGITS ' + line); };

  /* One line why the camera cannot be used, and what to do. */
  function cameraError(err) {
    const name = err && err.name;
    if (name === 'NotAllowedError' || name === 'SecurityError')
      return 'Camera access was denied. Allow the camera for this page in the browser\'s site ' +
             'settings and reload, or use "Read a photo".';
    if (name === 'NotFoundError' || name === 'OverconstrainedError')
      return 'No camera was found. Connect one and reload, or use "Read a photo".';
    if (name === 'NotReadableError' || name === 'AbortError')
      return 'The camera is busy: another program or tab is using it. Close that and reload.';
    return 'The camera could not be started (' + (err && err.message || err) + ').';
  }

  async function startCamera() {
    if (st.stream) st.stream.getTracks().forEach((t) => t.stop());
    st.stream = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      say('This browser gives no camera to this page: cameras need https or localhost. ' +
          'Open it as http://localhost:8000/ (make serve), or use "Read a photo".');
      return;
    }
    try {
      st.stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: st.facing },
        audio: false });
    } catch (err) {
      say(cameraError(err));
      log(JSON.stringify({ event: 'camera-error', name: err && err.name }));
      return;
    }
    say('');
    video.srcObject = st.stream;
    await video.play();
    worker.postMessage({ type: 'reset' });
    st.t0 = performance.now();
    st.photo = false;
    next();
  }

  /* Sends the next new camera frame once the worker is free (each frame once: a browser that
   * cannot say when a new frame arrives gets the newest at every repaint). */
  function next() {
    if (st.busy || st.photo) return;
    if (st.paused || !st.stream || video.readyState < 2) {
      requestAnimationFrame(next);
      return;
    }
    if (video.requestVideoFrameCallback && !st.waiting) {
      st.waiting = true;
      video.requestVideoFrameCallback(() => { st.waiting = false; send(); });
      return;
    }
    if (!video.requestVideoFrameCallback) send();
  }

  function send() {
    if (st.busy || st.photo || st.paused || !st.stream) { requestAnimationFrame(next); return; }
    const w = video.videoWidth, h = video.videoHeight;
    if (grab.width !== w || grab.height !== h) { grab.width = w; grab.height = h; }
    gctx.drawImage(video, 0, 0, w, h);
    const img = gctx.getImageData(0, 0, w, h);
    st.busy = true;
    worker.postMessage({ type: 'frame', width: w, height: h, frame: st.frame++,
                         t: (performance.now() - st.t0) / 1000, pixels: img.data.buffer },
                       [img.data.buffer]);
  }

  function box(b, color, width) {
    ctx.lineWidth = width;
    ctx.strokeStyle = color;
    const x = st.mirror ? screen.width - b[0] - b[2] : b[0];
    ctx.strokeRect(x, b[1], b[2], b[3]);
    return x;
  }

  function label(x, y, text, fg, bg, size) {
    ctx.font = `bold ${size}px "DejaVu Sans", sans-serif`;
    const w = ctx.measureText(text).width + 8;
    ctx.fillStyle = bg;
    ctx.fillRect(x, y, w, size + 6);
    ctx.fillStyle = fg;
    ctx.fillText(text, x + 4, y + size + 1);
  }

  /* The frame the reading belongs to, then its boxes, digits and numbers. */
  function draw(r) {
    screen.width = grab.width;
    screen.height = grab.height;
    ctx.save();
    if (st.mirror) { ctx.translate(screen.width, 0); ctx.scale(-1, 1); }
    ctx.drawImage(grab, 0, 0);
    ctx.restore();
    for (const d of r.shown_digits || r.digits) {
      const x = box(d.box, '#28dc5a', 2);
      label(x, d.box[1] + d.box[3] + 3, `${d.digit} ${Math.round(100 * d.confidence)}%`,
            '#000', '#28dc5a', 12);
    }
    const lockedIds = new Set((r.locked || []).map((n) => n.id));
    for (const n of r.shown || r.numbers) {
      const locked = lockedIds.has(n.id);
      const x = st.mirror ? screen.width - n.box[0] - n.box[2] : n.box[0];
      label(x, Math.max(0, n.box[1] - 30), n.text + (locked ? ' \u2713' : ''), '#fff',
            locked ? '#14963c' : '#145ae6', 20);
    }
  }

  function showInputs(inputs, digits) {
    const box = $('inputs');
    box.textContent = '';
    inputs.forEach((x, i) => {
      const fig = document.createElement('figure');
      const c = document.createElement('canvas');
      c.width = c.height = 28;
      const id = c.getContext('2d').createImageData(28, 28);
      for (let k = 0; k < 784; k++) {
        const v = Math.round(255 * x[k]);
        id.data[4 * k] = id.data[4 * k + 1] = id.data[4 * k + 2] = v;
        id.data[4 * k + 3] = 255;
      }
      c.getContext('2d').putImageData(id, 0, 0);
      const cap = document.createElement('figcaption');
      cap.textContent = `${digits[i].digit} ${Math.round(100 * digits[i].confidence)}%`;
      fig.append(c, cap);
      box.append(fig);
    });
  }

  function noteLock(ev) {
    st.locked.unshift(ev);
    st.locked.length = Math.min(st.locked.length, 40);
    const li = document.createElement('li');
    const t = document.createElement('span');
    t.textContent = ev.t.toFixed(1) + ' s';
    const text = document.createElement('span');
    text.className = 'text';
    text.textContent = ev.text;
    const c = document.createElement('span');
    c.textContent = Math.round(100 * ev.confidence) + '%';
    li.append(t, text, c);
    $('log').prepend(li);
    while ($('log').children.length > 40) $('log').lastChild.remove();
  }

  worker.onmessage = (e) => {
    const m = e.data;
    if (m.type === 'error') {
      st.busy = false;
      say('The reader failed: ' + m.text);
      log(JSON.stringify({ event: 'error', text: m.text }));
      return;
    }
    if (m.type === 'frame' && st.photo) { /* a camera frame read while a photo was chosen */
      st.busy = false;
      return;
    }
    const lines = m.text.split('\n').filter((x) => x);
    lines.forEach(log);
    const r = JSON.parse(lines[0]);
    if (test && window.digitsPixels) window.digitsPixels(grab.toDataURL('image/png'));
    draw(r);
    showInputs(m.inputs, r.digits);
    for (const line of lines.slice(1)) noteLock(JSON.parse(line));
    const now = performance.now();
    st.reads.push(now);
    while (st.reads.length && now - st.reads[0] > 1000) st.reads.shift();
    st.ms = st.ms ? 0.9 * st.ms + 0.1 * m.ms : m.ms;
    if (m.type === 'photo') {
      status(`photo ${r.width}x${r.height}: ${r.digits.length} digits, ` +
             `${r.numbers.length} numbers in ${m.ms.toFixed(1)} ms`);
      return;
    }
    status(`camera ${grab.width}x${grab.height} | read ${st.reads.length} fps | ` +
           `${st.ms.toFixed(1)} ms per frame in the reader | ${st.paused ? 'paused' : 'live'}` +
           (r.camera && r.camera.advice ? ` | ${r.camera.advice}` : ''));
    st.busy = false;
    next();
  };
  worker.onerror = (e) => say('The reader could not start: ' + (e.message || 'unknown error'));

  async function readPhoto(file) {
    let bmp;
    try {
      bmp = await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (err) {
      say(`${file.name} is not an image this browser can decode.`);
      return;
    }
    const s = Math.min(1, 4096 / Math.max(bmp.width, bmp.height));
    grab.width = Math.max(16, Math.round(bmp.width * s));
    grab.height = Math.max(16, Math.round(bmp.height * s));
    gctx.drawImage(bmp, 0, 0, grab.width, grab.height);
    const img = gctx.getImageData(0, 0, grab.width, grab.height);
    st.photo = true;
    say('');
    $('pause').textContent = 'Camera';
    worker.postMessage({ type: 'photo', width: grab.width, height: grab.height,
                         pixels: img.data.buffer }, [img.data.buffer]);
  }

  function togglePause() {
    if (st.photo) { st.photo = false; st.paused = false; startCamera(); }
    else st.paused = !st.paused;
    $('pause').textContent = st.paused ? 'Resume' : 'Pause';
    if (!st.paused) requestAnimationFrame(next);
  }

  function snapshot() {
    const a = document.createElement('a');
    a.download = `digits-${new Date().toISOString().replace(/[:.]/g, '-')}.png`;
    a.href = screen.toDataURL('image/png');
    a.click();
  }

  function copyLatest() {
    if (st.locked.length && navigator.clipboard)
      navigator.clipboard.writeText(st.locked[0].text).catch(() => {});
  }

  $('pause').onclick = togglePause;
  $('snapshot').onclick = snapshot;
  $('mirror').onclick = () => { st.mirror = !st.mirror; };
  $('switch').onclick = () => { st.facing = st.facing === 'user' ? 'environment' : 'user'; startCamera(); };
  $('photo').onchange = (e) => { if (e.target.files[0]) readPhoto(e.target.files[0]); };
  document.addEventListener('keydown', (e) => {
    if (e.target.tagName === 'INPUT') return;
    const k = e.key;
    if (k === ' ') { e.preventDefault(); togglePause(); }
    else if (k === 's') snapshot();
    else if (k === 'm') st.mirror = !st.mirror;
    else if (k === 'c') copyLatest();
    else if (k === 'l') { st.locked = []; $('log').textContent = ''; }
    else if (k === 'q' && st.stream) { st.stream.getTracks().forEach((t) => t.stop()); st.stream = null; status('camera stopped (reload to start again)'); }
  });
  startCamera();
}
