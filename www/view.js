// Drawing: the model's view of the image on a canvas, and the top-k list.
export function drawRgba(canvas, rgba, width, height) {
  canvas.width = width;
  canvas.height = height;
  canvas.style.imageRendering = width < 128 ? 'pixelated' : 'auto';
  const ctx = canvas.getContext('2d');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.byteLength), width, height), 0, 0);
}

/// The top classes as a list of buttons (Tab reaches them, the arrow keys move between them,
/// Enter or Space explains that class): a click anywhere in an item reaches the list's handler
/// through `closest('li')`.
export function renderTopK(list, prediction) {
  list.onkeydown = (e) => {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[e.key];
    const buttons = [...list.querySelectorAll('button.class-choice')];
    const i = buttons.indexOf(e.target);
    if (!step || i < 0) return;
    e.preventDefault();
    buttons[(i + step + buttons.length) % buttons.length].focus();
  };
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

/// Marks the class being explained in a top-k list (`target`: its index; null: the first).
export function markTarget(list, target) {
  const t = target ?? Number(list.firstElementChild?.dataset.index);
  for (const li of list.children) {
    const on = Number(li.dataset.index) === t;
    li.classList.toggle('target', on);
    li.querySelector('button')?.setAttribute('aria-pressed', String(on));
  }
}
