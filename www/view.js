// Drawing: the model's view of the image on a canvas, and the top-k list.
export function drawRgba(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.style.imageRendering = width < 128 ? 'pixelated' : 'auto';
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height), 0, 0);
}

/// The top classes as a list of buttons (Tab reaches them, Enter or Space explains that class):
/// a click anywhere in an item reaches the list's handler through `closest('li')`.
export function renderTopK(list, prediction) {
  list.replaceChildren(...prediction.top.map((c) => {
    const li = document.createElement('li');
    li.dataset.index = c.index;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'class-choice';
    button.title = `explain “${c.label}”`;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = c.label;
    const p = document.createElement('span');
    p.className = 'p';
    p.textContent = `${(100 * c.probability).toFixed(1)} %`;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(1, 100 * c.probability)}%`;
    button.append(label, p, bar);
    li.append(button);
    return li;
  }));
}
