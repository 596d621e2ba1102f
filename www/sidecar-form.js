// For a model dropped without its sidecar JSON: a small form for the input size, colour (or
// tensors only), layout (channels first or last),
// preprocessing and labels, prefilled with sensible defaults (the model's declared input,
// pixel values scaled to 0..1), which builds the sidecar the model is then reloaded with.
export class SidecarForm {
  constructor(root, onApply) {
    this.root = root;
    this.onApply = onApply;
    root.innerHTML = `<p><strong>This model came without a sidecar.</strong> Check how images must be prepared for it, then apply.</p>
      <div class="params">
        <label class="param">colour <select name="color"><option value="rgb">RGB</option><option value="gray">gray</option><option value="rgba">RGBA</option><option value="tensor">none (tensors only)</option></select></label>
        <label class="param">channels <input name="channels" type="number" min="1" max="1024" title="used when the input is tensors only"></label>
        <label class="param">layout <select name="layout"><option value="nchw">channels first [1, C, H, W]</option><option value="nhwc">channels last [1, H, W, C]</option></select></label>
        <label class="param">height <input name="height" type="number" min="1" max="4096"></label>
        <label class="param">width <input name="width" type="number" min="1" max="4096"></label>
        <label class="param">resize shorter side to <input name="resize" type="number" min="1" max="16384"></label>
        <label class="param">mean <input name="mean" value="0" title="per channel, comma-separated, on 0..1 pixel values"></label>
        <label class="param">std <input name="std" value="1"></label>
        <button type="button" name="imagenet">ImageNet mean/std</button>
      </div>
      <label class="param labels">labels, one per line (optional) <textarea name="labels" rows="3"></textarea></label>
      <div class="tools"><button type="button" name="apply">Apply</button></div>`;
    const f = (n) => root.querySelector(`[name=${n}]`);
    this.f = f;
    f('imagenet').addEventListener('click', () => { f('color').value = 'rgb'; f('mean').value = '0.485, 0.456, 0.406'; f('std').value = '0.229, 0.224, 0.225'; });
    f('height').addEventListener('change', () => { if (!f('resize').value) f('resize').value = f('height').value; });
    f('apply').addEventListener('click', () => this.apply());
  }

  open(info, title) {
    this.title = title;
    const shape = info?.input_shape ?? [1, 3, '', ''];
    this.f('color').value = info?.color ?? (shape[1] === 1 ? 'gray' : 'rgb');
    this.f('channels').value = shape[1];
    this.f('layout').value = info?.layout ?? 'nchw';
    this.f('height').value = shape[2];
    this.f('width').value = shape[3];
    this.f('resize').value = shape[2] && shape[3] ? Math.min(shape[2], shape[3]) : '';
    this.root.hidden = false;
  }

  close() { this.root.hidden = true; }

  apply() {
    const f = this.f;
    const nums = (s) => s.split(',').map((x) => Number(x.trim())).filter((x) => x === x);
    const color = f('color').value;
    const c = { gray: 1, rgb: 3, rgba: 4 }[color] ?? Number(f('channels').value);
    const h = Number(f('height').value);
    const w = Number(f('width').value);
    const labels = f('labels').value.split('\n').map((x) => x.trim()).filter(Boolean);
    const sidecar = {
      name: this.title, title: this.title,
      input: { shape: [1, c, h, w], color, layout: f('layout').value },
      preprocess: { resize: Number(f('resize').value) || Math.min(h, w), crop: [h, w], mean: nums(f('mean').value), std: nums(f('std').value) },
      labels,
    };
    this.onApply(JSON.stringify(sidecar));
  }
}
