"""JavaScript that runs in the visitor's browser: values typed past a slider's range, and the run key.

A Gradio slider clamps a typed number into its range when its box loses focus, so a visitor who
types 9999 in Steps would run at the maximum without knowing. `INSTALL` remembers each slider's
last typed value; `typed_values_js` hands it to the run event in place of a hidden component's
value, so the server validates what was typed and refuses it with the API's own message.
`INSTALL` also makes Ctrl/Cmd+Enter press the visible tab's Run button.
"""

from __future__ import annotations

import json

INSTALL = """() => {
  if (window.__playgroundInstalled) return;
  window.__playgroundInstalled = true;
  window.__playgroundTyped = {};
  const slotKey = (el) => {
    const holder = el.closest('[id^="param-"]');
    return holder ? holder.id.slice(6) : null;
  };
  document.addEventListener('input', (event) => {
    const el = event.target;
    if (!(el instanceof HTMLInputElement)) return;
    const key = slotKey(el);
    if (!key) return;
    if (el.type === 'number') {
      window.__playgroundTyped[key] = {value: el.value, min: el.min, max: el.max};
    } else if (el.type === 'range') {
      delete window.__playgroundTyped[key];
    }
  }, true);
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !(event.ctrlKey || event.metaKey)) return;
    const buttons = ['#run', '#compare-run', '#drift-run']
      .map((sel) => document.querySelector(sel))
      .filter((b) => b && b.offsetParent !== null && !b.disabled);
    if (buttons.length) {
      event.preventDefault();
      buttons[0].click();
    }
  }, true);
}"""


def typed_values_js(index: int, count: int) -> str:
    """The `js` of the run event: argument `index` (of `count`) becomes {slot key: typed text} for
    each slider whose typed value the slider clamped (its box now shows the clamped number)."""
    return f"""(...args) => {{
  const typed = {{}};
  for (const [key, entry] of Object.entries(window.__playgroundTyped || {{}})) {{
    const box = document.querySelector(`#param-${{key}} input[type=number]`);
    const value = Number(entry.value);
    if (!box || entry.value === '' || Number.isNaN(value)) continue;
    let clamped = value;
    if (entry.min !== '') clamped = Math.max(clamped, Number(entry.min));
    if (entry.max !== '') clamped = Math.min(clamped, Number(entry.max));
    if (clamped !== value && Number(box.value) === clamped) typed[key] = entry.value;
  }}
  const out = args.slice(0, {json.dumps(count)});
  out[{json.dumps(index)}] = typed;
  return out;
}}"""
