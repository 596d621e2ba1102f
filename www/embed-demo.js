// The demo page's one script: the steps slider drives the IG element's params.
const steps = document.getElementById('steps');
const out = document.getElementById('steps-out');
steps.addEventListener('input', () => { out.textContent = steps.value; });
steps.addEventListener('change', () => document.getElementById('digit').setAttribute('params', JSON.stringify({ steps: Number(steps.value), baseline: 'black' })));
