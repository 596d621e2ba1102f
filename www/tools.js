// Image tools that make a new input from the current one: a drawing pad (for small gray
// models such as the MNIST nets), a patch painter (paint a rectangle over the model's view,
// as in "a nine read as a zero because of a white patch"), and paste from the clipboard.
// Each hands PNG bytes to `useImage(bytes, title)`.

function canvasPng(canvas) {
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? b.arrayBuffer().then((a) => resolve(new Uint8Array(a))) : reject(new Error('could not encode the canvas'))), 'image/png'));
}

export class DrawPad {
  constructor(canvas, clearButton, useImage) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.useImage = useImage;
    this.clear();
    let drawing = false;
    let last = null;
    const pos = (e) => {
      const r = canvas.getBoundingClientRect();
      return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
    };
    canvas.addEventListener('pointerdown', (e) => { drawing = true; last = pos(e); canvas.setPointerCapture(e.pointerId); this.stroke(last, last); });
    canvas.addEventListener('pointermove', (e) => { if (!drawing) return; const p = pos(e); this.stroke(last, p); last = p; });
    const end = () => { if (!drawing) return; drawing = false; this.submit(); };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
    clearButton.addEventListener('click', () => this.clear());
    // Keyboard: arrows move a pen over a 28 x 28 grid (drawing while it is down), space lifts
    // or lowers it, Enter classifies, Delete clears. Its state is announced in `status`.
    canvas.tabIndex = 0;
    this.pen = { x: 14, y: 14, down: false };
    this.status = document.createElement('p');
    this.status.className = 'muted';
    this.status.setAttribute('aria-live', 'polite');
    this.status.id = 'draw-status';
    canvas.after(this.status);
    canvas.addEventListener('keydown', (e) => this.key(e));
  }

  key(e) {
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
    const cell = this.canvas.width / 28;
    const at = (p) => [(p.x + 0.5) * cell, (p.y + 0.5) * cell];
    if (step) {
      const from = { ...this.pen };
      this.pen.x = Math.min(27, Math.max(0, this.pen.x + step[0]));
      this.pen.y = Math.min(27, Math.max(0, this.pen.y + step[1]));
      if (this.pen.down) this.stroke(at(from), at(this.pen));
    } else if (e.key === ' ') {
      this.pen.down = !this.pen.down;
      if (this.pen.down) this.stroke(at(this.pen), at(this.pen));
    } else if (e.key === 'Enter') {
      this.submit();
    } else if (e.key === 'Delete' || e.key === 'Backspace') {
      this.clear();
    } else return;
    e.preventDefault();
    this.status.textContent = `Pen at column ${this.pen.x + 1}, row ${this.pen.y + 1}, ${this.pen.down ? 'down (drawing)' : 'up'}. Arrows move, space lifts or lowers, Enter classifies, Delete clears.`;
  }

  clear() {
    this.ctx.fillStyle = '#000';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
  }

  stroke([x0, y0], [x1, y1]) {
    const c = this.ctx;
    c.strokeStyle = '#fff';
    c.lineWidth = this.canvas.width / 12;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(x0, y0);
    c.lineTo(x1, y1);
    c.stroke();
  }

  async submit() { this.useImage(await canvasPng(this.canvas), 'Your drawing'); }
}

/// Drag a rectangle on the image; it is painted in the chosen colour onto the model's view.
export class PatchTool {
  constructor(stack, imageCanvas, colorInput, useImage) {
    this.active = false;
    this.box = document.createElement('div');
    this.box.className = 'patch-box';
    this.box.hidden = true;
    stack.append(this.box);
    let start = null;
    const pos = (e) => {
      const r = stack.getBoundingClientRect();
      return [Math.min(Math.max(e.clientX - r.left, 0), r.width), Math.min(Math.max(e.clientY - r.top, 0), r.height), r];
    };
    stack.addEventListener('pointerdown', (e) => {
      if (!this.active) return;
      start = pos(e);
      stack.setPointerCapture(e.pointerId);
      this.show(start, start);
    });
    stack.addEventListener('pointermove', (e) => { if (start) this.show(start, pos(e)); });
    stack.addEventListener('pointerup', async (e) => {
      if (!start) return;
      const end = pos(e);
      const s = start;
      start = null;
      this.box.hidden = true;
      const r = s[2];
      const sx = imageCanvas.width / r.width;
      const sy = imageCanvas.height / r.height;
      const x = Math.floor(Math.min(s[0], end[0]) * sx);
      const y = Math.floor(Math.min(s[1], end[1]) * sy);
      const w = Math.max(1, Math.ceil(Math.abs(end[0] - s[0]) * sx));
      const h = Math.max(1, Math.ceil(Math.abs(end[1] - s[1]) * sy));
      await this.paint(x, y, w, h);
    });
    this.imageCanvas = imageCanvas;
    this.colorInput = colorInput;
    this.useImage = useImage;
  }

  /// Paints a rectangle (model-input pixels) over the current image: the pointer's drag, or the
  /// x/y/width/height fields for keyboard users.
  async paint(x, y, w, h) {
    const copy = document.createElement('canvas');
    copy.width = this.imageCanvas.width;
    copy.height = this.imageCanvas.height;
    const c = copy.getContext('2d');
    c.drawImage(this.imageCanvas, 0, 0);
    c.fillStyle = this.colorInput.value;
    c.fillRect(x, y, w, h);
    await this.useImage(await canvasPng(copy), `patched (${w}×${h} at ${x},${y})`);
  }

  show([x0, y0], [x1, y1]) {
    Object.assign(this.box.style, { left: `${Math.min(x0, x1)}px`, top: `${Math.min(y0, y1)}px`, width: `${Math.abs(x1 - x0)}px`, height: `${Math.abs(y1 - y0)}px` });
    this.box.hidden = false;
  }
}

/// Images pasted anywhere on the page (Ctrl+V) are used as input.
export function onPaste(handle) {
  window.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
    if (files.length) {
      e.preventDefault();
      handle(files);
    }
  });
}

export { canvasPng };
