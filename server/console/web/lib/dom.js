// dom.js: build elements without HTML strings. Text is always a text
// node, so user data can never become markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'style' && typeof v === 'object') {
      for (const [p, x] of Object.entries(v)) el.style.setProperty(p, x);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'class' && Array.isArray(v)) {
      el.setAttribute('class', v.filter(Boolean).join(' '));
    } else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected') {
      el[k] = !!v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// h('button', { class: 'btn', onclick }, 'Save') → <button class="btn">Save</button>
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

// svg('circle', { cx: 1, cy: 2, r: 3 }) builds an SVG element.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

// clear empties an element and fills it with children.
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
// id makes a unique element id (for label/for and aria-describedby).
export function id(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

// field builds a labelled control: { label, name, type, value, required,
// options: [[value, text]], hint }. The control gets the name the API's
// error `field` uses, so showError can put the message beside it.
export function field(spec) {
  const fid = spec.id || id(spec.name || 'f');
  let control;
  if (spec.options) {
    control = h('select', { id: fid, name: spec.name, required: spec.required, multiple: spec.multiple },
      spec.options.map(([v, text]) => h('option', { value: v, selected: spec.multiple ? (spec.value || []).includes(v) : String(spec.value ?? '') === String(v) }, text)));
  } else if (spec.type === 'textarea') {
    control = h('textarea', { id: fid, name: spec.name, required: spec.required, rows: spec.rows || 3 });
    control.value = spec.value ?? '';
  } else if (spec.type === 'checkbox') {
    control = h('input', { id: fid, name: spec.name, type: 'checkbox', checked: !!spec.value });
    return h('div', { class: 'field field-check' }, control, h('label', { for: fid }, spec.label),
      spec.hint && h('p', { class: 'hint', id: fid + '-hint' }, spec.hint));
  } else {
    control = h('input', { id: fid, name: spec.name, type: spec.type || 'text', required: spec.required,
      autocomplete: spec.autocomplete || 'off', min: spec.min, max: spec.max, step: spec.step,
      placeholder: spec.placeholder, inputmode: spec.inputmode, pattern: spec.pattern, maxlength: spec.maxlength });
    control.value = spec.value ?? '';
  }
  if (spec.hint) control.setAttribute('aria-describedby', fid + '-hint');
  return h('div', { class: 'field' }, h('label', { for: fid }, spec.label), control,
    spec.hint && h('p', { class: 'hint', id: fid + '-hint' }, spec.hint));
}

// formData reads a form's named controls into an object (checkboxes as
// booleans, multiple selects as arrays).
export function formData(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.multiple) out[el.name] = [...el.selectedOptions].map((o) => o.value);
    else out[el.name] = el.value;
  }
  return out;
}

// announce says something to screen readers and shows it as a toast.
export function announce(text, kind = 'info') {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(region);
  }
  const el = h('p', { class: ['toast', 'toast-' + kind] }, text);
  region.appendChild(el);
  setTimeout(() => el.remove(), 6000);
}
