// Small DOM helpers shared by the play view and the platform panel. Text only ever goes in as
// text: nothing the servers send is parsed as HTML.

/** Okabe-Ito: told apart by colour-blind eyes too; every use carries the appliance's name as text beside it. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#555555'];
const colours = new Map();

/** One colour per appliance, the same in the segment strip and the platform panel. */
export function applianceColour(applianceId) {
  if (!colours.has(applianceId)) {
    colours.set(applianceId, PALETTE[colours.size % PALETTE.length]);
  }
  return colours.get(applianceId);
}

export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'colour') {
      element.style.setProperty('--colour', value);
    } else if (value !== undefined && value !== false) {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  element.append(...children.flat().filter((child) => child !== undefined && child !== null).map((child) => (child instanceof Node ? child : String(child))));
  return element;
}

export function swatch(applianceId) {
  return el('span', { class: 'swatch', colour: applianceColour(applianceId), 'aria-hidden': 'true' });
}

export function byId(id) {
  const element = document.getElementById(id);
  if (!element) {
    throw new Error(`index.html: no element #${id}`);
  }
  return element;
}

export function formatBytes(bytes) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatSeconds(seconds) {
  return seconds === null || seconds === undefined ? '—' : `${seconds.toFixed(1)} s`;
}

export function formatTime(iso) {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleTimeString();
}

/** A health cell that says it in words and a symbol, not only in colour. */
export function health(healthy) {
  return el('span', { class: healthy ? 'health ok' : 'health down' }, healthy ? '● healthy' : '✕ down');
}

const LOG_LIMIT = 60;

/** Adds a timestamped line to the page's log, newest first. */
export function appendLog(message) {
  const log = byId('log');
  log.prepend(el('li', {}, el('time', { datetime: new Date().toISOString() }, new Date().toLocaleTimeString()), ' ', message));
  while (log.children.length > LOG_LIMIT) {
    log.lastElementChild.remove();
  }
}

export function showError(message) {
  const box = byId('error');
  box.hidden = message === undefined;
  box.replaceChildren(message === undefined ? '' : el('strong', {}, 'Error: '), message ?? '');
}
