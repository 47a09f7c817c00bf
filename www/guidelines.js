// @ts-check
// The Guidelines panel: the paper's Tables 1 to 4 measured on this device by the engine
// (src/guidelines, `measureGuideline`), shown as bars beside the paper's, with one sentence per
// guideline and a "copy as table". Nothing runs until a button is pressed.

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const TABLES = [1, 2, 3, 4];
// Timed runs a row: enough for a stable median of millisecond rows; a software GPU is slow.
const RUNS = { cpu: 7, webgpu: 3 };

/**
 * @param {{ measureGuideline(backend: string, table: number, runs: number, scale: number): Promise<any> }} engine
 */
export function wireGuidelines(engine) {
  /** @type {string[]} */
  let markdown = [];
  let running = false;
  const buttons = /** @type {HTMLButtonElement[]} */ ([$('guidelines-cpu'), $('guidelines-webgpu')]);
  const copy = /** @type {HTMLButtonElement} */ ($('guidelines-copy'));
  const progress = /** @type {HTMLProgressElement} */ ($('guidelines-progress'));
  // The paper's width scales (x1, x2, x4): its columns of every table.
  const scale = /** @type {HTMLSelectElement} */ ($('guidelines-scale'));

  async function run(/** @type {'cpu' | 'webgpu'} */ backend) {
    if (running) return;
    running = true;
    buttons.forEach((b) => (b.disabled = true));
    scale.disabled = true;
    copy.disabled = true;
    markdown = [];
    $('guidelines-tables').replaceChildren();
    progress.hidden = false;
    progress.value = 0;
    const where = `${backend === 'cpu' ? 'the CPU' : 'WebGPU'} at x${scale.value}`;
    try {
      for (const table of TABLES) {
        $('guidelines-status').textContent = `Measuring Table ${table} of 4 on ${where}…`;
        const result = await engine.measureGuideline(backend, table, RUNS[backend], Number(scale.value));
        $('guidelines-tables').append(renderTable(result));
        markdown.push(result.markdown);
        progress.value = table;
      }
      $('guidelines-status').textContent = `Measured on ${where} (${markdown.length} tables).`;
      copy.disabled = false;
    } catch (err) {
      $('guidelines-status').textContent = `The lab stopped: ${err instanceof Error ? err.message : err}`;
    } finally {
      progress.hidden = true;
      running = false;
      buttons.forEach((b) => (b.disabled = false));
      scale.disabled = false;
    }
  }

  buttons[0].addEventListener('click', () => run('cpu'));
  buttons[1].addEventListener('click', () => run('webgpu'));
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(markdown.join('\n'));
      $('guidelines-status').textContent = 'Copied as a markdown table.';
    } catch {
      $('guidelines-status').textContent = 'The clipboard refused: select the tables instead.';
    }
  });
}

/** One table: per row our speed ratio and the paper's as bars, then the verdict. */
function renderTable(result) {
  const box = document.createElement('figure');
  box.className = 'guideline';
  box.dataset.testid = 'guideline-table';
  const caption = document.createElement('figcaption');
  caption.textContent = `Table ${result.table} · ${result.guideline}: ${result.claim} (${result.backend}, x${result.scale}; paper: ${result.paper_column})`;
  const table = document.createElement('table');
  const head = table.createTHead().insertRow();
  for (const h of ['row', 'ms', `${result.unit}`, 'speed vs first row: here', 'paper']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const max = Math.max(...result.rows.flatMap((r) => [r.ratio, r.paper_ratio]));
  const body = table.createTBody();
  for (const r of result.rows) {
    const tr = body.insertRow();
    tr.dataset.testid = 'guideline-row';
    tr.insertCell().textContent = r.label;
    tr.insertCell().textContent = r.median_ms.toFixed(r.median_ms < 10 ? 2 : 0);
    tr.insertCell().textContent = r.throughput.toFixed(1);
    tr.insertCell().append(bar(r.ratio, max));
    tr.insertCell().append(bar(r.paper_ratio, max));
  }
  const verdict = document.createElement('p');
  verdict.className = 'small';
  verdict.dataset.testid = 'guideline-verdict';
  verdict.textContent = result.verdict;
  box.append(caption, table, verdict);
  return box;
}

function bar(/** @type {number} */ ratio, /** @type {number} */ max) {
  const wrap = document.createElement('span');
  wrap.className = 'ratio';
  const meter = document.createElement('meter');
  meter.min = 0;
  meter.max = max;
  meter.value = ratio;
  const figure = document.createElement('span');
  figure.textContent = `${ratio.toFixed(2)}x`;
  wrap.append(meter, figure);
  return wrap;
}
