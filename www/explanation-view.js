// The one view controller of the viewer (app.js) and the <saliency-viewer> element: a model's
// input as it sees it, its top classes, and an explanation drawn over the input (or beside it,
// or alone) with its legend. It speaks only the JS API (saliency.js); the page or the element
// decides what to explain and when, and lays the parts out.
import { drawRgba, renderTopK, markTarget } from './view.js';
import { drawOverlay, drawLegend } from './heatmap.js';

export { Cancelled } from './saliency.js';

/// Requests that collapse while work runs: a newer request waits for the running one, and a
/// deeper one absorbs shallower ones (`order`: shallow first, e.g. ['render', 'compute']).
/// `run(level)` does the work; `schedule(level)` resolves when a run covering it has ended.
export class Coalescer {
  constructor(order, run) {
    this.order = order;
    this.run = run;
    this.queued = null;
    this.tail = Promise.resolve();
  }

  schedule(level) {
    if (this.queued && this.order.indexOf(this.queued) >= this.order.indexOf(level)) return this.tail;
    const first = !this.queued;
    this.queued = level;
    if (first) {
      // A failed run (its caller shows the error) does not stop the ones after it.
      this.tail = this.tail.catch(() => {}).then(() => {
        const l = this.queued;
        this.queued = null;
        return this.run(l);
      });
    }
    return this.tail;
  }

  /// Resolves when everything asked so far has run.
  idle() { return this.tail; }
}

export class ExplanationView {
  /// `parts`: canvases `image` (the input), `heat` (the map, stacked over the image) and
  /// optionally `original` (a copy of the input, beside the map); the legend's `legend` box,
  /// `strip` canvas and `min` / `max` labels; an optional `topk` list.
  constructor(parts) {
    Object.assign(this, parts);
    this.model = null;
    this.input = null;
    this.prediction = null;
    this.explanation = null;
    this.size = null;
    this.mode = 'overlay';
    this.opacity = 0.6;
    this.job = null;
  }

  /// A new model: nothing of the old one stays on screen.
  setModel(model) {
    this.abort();
    this.model = model;
    this.input = null;
    this.prediction = null;
    this.explanation = null;
    this.hideMap();
  }

  /// Classifies `bytes` (an image or a .npy tensor) and shows the input as the model sees it
  /// and its top-k classes; the explanation of the previous input is gone.
  async setInput(bytes, { k = 5 } = {}) {
    const r = await this.model.setInput(bytes, { k });
    drawRgba(this.image, r.view.rgba, r.view.width, r.view.height);
    if (this.original) {
      this.original.width = r.view.width;
      this.original.height = r.view.height;
      this.original.style.imageRendering = this.image.style.imageRendering;
      this.original.getContext('2d').drawImage(this.image, 0, 0);
    }
    this.input = { width: r.view.width, height: r.view.height };
    this.prediction = r;
    this.explanation = null;
    this.hideMap();
    if (this.topk) renderTopK(this.topk, r);
    return r;
  }

  /// Marks the class being explained in the top-k list.
  markTarget(target) {
    if (this.topk) markTarget(this.topk, target);
  }

  /// Stops the chunked run in flight (it rejects with Cancelled after its current chunks).
  abort() { this.job?.abort(); }

  /// Explains the current input (`{ method, params, target }`, as SaliencyModel.explain) and
  /// draws it with `display`; a new call stops the previous one's chunked run.
  async explain({ method, params, target }, display, { onProgress } = {}) {
    this.abort();
    const job = new AbortController();
    this.job = job;
    try {
      const e = await this.model.explain({ method, params, target, key: 'view', signal: job.signal, onProgress });
      this.explanation = e;
      await this.redraw(display);
      return e;
    } catch (err) {
      if (err?.name !== 'cancelled') this.hideMap();
      throw err;
    } finally {
      if (this.job === job) this.job = null;
    }
  }

  /// Draws the explanation again with other display settings (no recomputation).
  async redraw(display) {
    if (!this.explanation) return null;
    const { width, height } = this.size ?? this.input;
    const r = await this.explanation.render({ ...display, width, height });
    drawOverlay(this.heat, r.rgba, r.width, r.height, this.opacity);
    this.show();
    if (this.strip) drawLegend(this.strip, r.strip, r.legend.vmin, r.legend.vmax, this.min, this.max);
    if (this.legend) this.legend.hidden = false;
    return r;
  }

  /// How the map is shown: `mode` over the image at `opacity`, beside it ('side'; needs the
  /// `original` canvas), or alone ('map').
  show({ mode = this.mode, opacity = this.opacity } = {}) {
    this.mode = mode;
    this.opacity = opacity;
    this.heat.style.opacity = String(mode === 'overlay' ? opacity : 1);
    this.image.style.visibility = mode === 'overlay' ? '' : 'hidden';
    if (this.original) this.original.hidden = mode !== 'side';
  }

  hideMap() {
    this.heat.hidden = true;
    if (this.legend) this.legend.hidden = true;
  }
}
