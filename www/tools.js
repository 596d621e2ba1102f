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
