// Labelled form fields and the way a form shows the API's error message: next to the field the
// error code names (aria-invalid, aria-describedby), and in an alert at the top of the form.

import {h} from './dom.js';

/** A labelled input (or textarea with tag: 'textarea'); hint text is tied to it by aria-describedby. */
export function field(id, label, attrs = {}, hint = '') {
  const {tag = 'input', ...rest} = attrs;
  const hintId = hint ? `${id}-hint` : null;
  const control = h(tag, {id, name: id, 'aria-describedby': hintId, ...rest});
  return h('div', {class: 'field'},
    h('label', {for: id}, label),
    hint ? h('p', {class: 'hint', id: hintId}, hint) : null,
    control);
}

/** A form whose submit handler gets the fields' values and shows a thrown ApiError's message. */
export function apiForm({label, fields, submit, onSubmit, fieldFor = () => null}) {
  const error = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const button = h('button', {type: 'submit', class: 'primary'}, submit);
  const form = h('form', {class: 'form', 'aria-label': label, novalidate: true}, error, fields, button);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const values = Object.fromEntries(new FormData(form));
    button.disabled = true;
    try {
      await onSubmit(values);
    } catch (err) {
      if (err.name === 'AbortError') return;
      error.textContent = err.message;
      error.hidden = false;
      const culprit = fieldFor(err.code) && form.querySelector(`#${fieldFor(err.code)}`);
      if (culprit) {
        culprit.setAttribute('aria-invalid', 'true');
        culprit.focus();
      }
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
