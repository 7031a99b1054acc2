// The StorageBus console: the REST API (docs: GET /api/v1/openapi.json) for what is, the event
// stream (GET /api/v1/events) for what changes. No polling: a view is read again when an event
// says it changed.

const $ = (id) => document.getElementById(id);
const GiB = 1024 ** 3;
let token = sessionStorage.getItem('storagebus-token');
let drivers = [];
let selectedDomain = null;
let stream = null;

class ApiError extends Error {
  constructor(status, body) {
    super(body.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, json || {});
  return json;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

const bytes = (n) => n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(0)} MiB`;
const duration = (s) => s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`;

// --- sign in -------------------------------------------------------------------------------

$('sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  $('sign-in-error').textContent = '';
  try {
    await start();
    sessionStorage.setItem('storagebus-token', token);
  } catch (err) {
    token = null;
    $('sign-in-error').textContent = err.status === 401 ? 'That token is not valid.' : `Cannot sign in: ${err.message}`;
    $('token').focus();
  }
});

$('sign-out').addEventListener('click', () => {
  sessionStorage.removeItem('storagebus-token');
  location.reload();
});

async function start() {
  await overview();
  drivers = await api('GET', '/api/v1/drivers');
  $('domain-driver').replaceChildren(...drivers.map((d) => el('option', { value: d.name }, d.name)));
  propertyFields();
  await Promise.all([domainList(), tasks()]);
  renderPaused();
  $('sign-in').hidden = true;
  $('console').hidden = false;
  $('sign-out').hidden = false;
  follow();
}

// --- overview --------------------------------------------------------------------------------

async function overview() {
  const health = await api('GET', '/api/v1/health');
  $('who').textContent = `manager ${health.role.toLowerCase()}, ${health.status}`;
  const facts = [['Status', health.status], ['This manager', health.role],
    ['Active manager', health.activeManager ? `${health.activeManager.id} (${health.activeManager.url})` : 'none'],
    ['Kafka', health.kafka], ['ZooKeeper', health.zookeeper]];
  for (const [pool, spm] of Object.entries(health.spm || {})) {
    facts.push([`SPM of ${pool}`, spm ? `${spm.host}, epoch ${spm.epoch}, since ${new Date(spm.since).toLocaleString()}` : 'none']);
  }
  $('overview-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('managers').replaceChildren(...(health.managers || []).map((m) => el('li', { 'data-manager': m.id },
    `${m.id} `, el('span', { class: `role-${m.role}` }, m.role.toLowerCase()), m.url ? ` at ${m.url}` : '')));
  const hosts = await api('GET', '/api/v1/hosts');
  $('hosts').replaceChildren(...hosts.map((h) => el('li', {},
    `${h.hostId} (${h.pool})${h.spm ? `, SPM epoch ${h.spm.epoch}` : ''}, ${h.leases.length} volume(s) prepared`)));
}

// --- domains ---------------------------------------------------------------------------------

// The SPM's figures of a domain change with its extends: read again after them, at most every
// few seconds however many come (a boot storm brings thousands a second).
let domainsReadAt = 0;
let capacityTimer = null;
function capacityMayHaveChanged() {
  capacityTimer ??= setTimeout(() => {
    capacityTimer = null;
    refresh(domainList);
  }, Math.max(0, domainsReadAt + 5000 - Date.now()));
}

async function domainList() {
  domainsReadAt = Date.now();
  const domains = await api('GET', '/api/v1/domains');
  $('domain-rows').replaceChildren(...domains.map((d) => el('tr', { 'data-domain': d.name },
    el('td', {}, d.name), el('td', {}, d.driver), el('td', {}, d.status),
    el('td', {}, capacity(d)), el('td', {}, `${d.trash.volumes} (${bytes(d.trash.virtualSize)})`),
    el('td', {}, el('button', { type: 'button', class: 'quiet', onclick: () => select(d) }, `Open ${d.name}`)))));
  backupTargets(domains);
  if (selectedDomain) {
    const again = domains.find((d) => d.id === selectedDomain.id);
    if (again) selectedDomain = again;
  }
}

// What the pool's SPM last said of the domain; it says nothing until a thin volume has grown there.
function capacity(d) {
  const c = d.capacity;
  if (!c) return el('span', { class: 'help' }, 'not measured yet: no thin volume has grown here');
  const parts = [`${bytes(c.freeBytes)} free${c.totalBytes ? ` of ${bytes(c.totalBytes)}` : ''}`];
  if (c.secondsToFull !== undefined) parts.push(`full in ${duration(c.secondsToFull)}`);
  const status = [el('span', { class: `level-${c.level}` }, `${c.level}: `), parts.join(', ')];
  if (!c.totalBytes) return el('div', {}, ...status);
  const used = Math.min(100, Math.max(0, Math.round(100 * (1 - c.freeBytes / c.totalBytes))));
  // A native meter: accessible as is, coloured by the browser past its high mark, and no inline style for the CSP to refuse.
  return el('div', {}, el('meter', { min: 0, max: 100, low: 80, high: 95, optimum: 0, value: used, 'aria-label': `${d.name}: ${used}% used`,
    title: `${used}% used` }), ...status);
}

// The form of a domain: one field per property the driver describes, validated by the manager.
function propertyFields() {
  const driver = drivers.find((d) => d.name === $('domain-driver').value);
  const fields = (driver ? driver.properties : []).map((p) => {
    const id = `property-${p.name}`;
    const input = p.values
      ? el('select', { id, name: p.name }, el('option', { value: '' }, ''), ...p.values.map((v) => el('option', { value: v }, v)))
      : el('input', { id, name: p.name, type: p.type === 'SECRET' || /secret|password/i.test(p.name) ? 'password' : 'text',
        placeholder: p.default ?? '', 'aria-describedby': `${id}-help ${id}-error`, required: p.required ? '' : null });
    return el('div', {}, el('label', { for: id }, `${p.name}${p.required ? ' (required)' : ''}`), input,
      el('p', { class: 'help', id: `${id}-help` }, p.description || ''), el('p', { class: 'error', id: `${id}-error`, role: 'alert' }));
  });
  $('domain-properties').replaceChildren(el('legend', {}, 'Properties'), ...fields);
}
$('domain-driver').addEventListener('change', propertyFields);

$('domain-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  document.querySelectorAll('#domain-form .error').forEach((p) => { p.textContent = ''; });
  const properties = {};
  $('domain-properties').querySelectorAll('input, select').forEach((i) => { if (i.value !== '') properties[i.name] = i.value; });
  try {
    await api('POST', '/api/v1/domains', { name: $('domain-name').value, driver: $('domain-driver').value, properties });
    $('domain-form').reset();
    propertyFields();
    await domainList();
  } catch (err) {
    showFieldErrors(err, { name: 'domain-name-error' }, 'domain-form-error');
  }
});

// A refusal names its fields: each message goes next to its field, the rest under the form.
function showFieldErrors(err, fields, general) {
  const problems = err.body && err.body.errors ? err.body.errors : [];
  let placed = false;
  for (const p of problems) {
    const target = p.field.startsWith('properties.') ? $(`property-${p.field.slice(11)}-error`) : fields[p.field] && $(fields[p.field]);
    if (target) {
      target.textContent = p.message;
      placed = true;
    }
  }
  if (!placed) $(general).textContent = err.message;
}

// --- volumes and maintenance of the selected domain -------------------------------------------

async function select(domain) {
  selectedDomain = domain;
  $('volumes').hidden = false;
  $('volumes-title').textContent = `Volumes of ${domain.name}`;
  await Promise.all([volumeList(), maintenance()]);
  $('volume-name').focus();
}

async function volumeList() {
  if (!selectedDomain) return;
  const [volumes, backups] = await Promise.all([api('GET', `/api/v1/domains/${selectedDomain.id}/volumes`), api('GET', '/api/v1/backups')]);
  const ours = backups.filter((b) => b.domainId === selectedDomain.id);
  const count = (v) => ours.filter((b) => b.volumeId === v.id).length;
  volumes.forEach((v) => names.set(v.id, v.name));
  $('volume-rows').replaceChildren(...volumes.map((v) => el('tr', { 'data-volume': v.name },
    el('td', {}, v.name), el('td', {}, bytes(v.virtualSize)), el('td', {}, v.format),
    el('td', {}, v.allocation, allocated.has(v.id) ? `, ${bytes(allocated.get(v.id))} allocated` : ''), el('td', {}, v.status),
    el('td', {}, v.lease ? v.lease.host : ''), el('td', {}, (v.snapshots || []).length), el('td', {}, count(v)),
    el('td', {},
      el('button', { type: 'button', class: 'quiet', onclick: () => act(() => api('POST', `/api/v1/volumes/${v.id}/snapshots`,
        { name: `snap-${stamp()}` })) }, `Snapshot ${v.name}`),
      el('button', { type: 'button', class: 'quiet', onclick: () => backUp(v) }, `Back up ${v.name}`),
      el('button', { type: 'button', class: 'quiet', onclick: () => confirm(`Delete ${v.name}? It goes to the trash.`)
        && act(() => api('DELETE', `/api/v1/volumes/${v.id}`)) }, `Delete ${v.name}`)))));
  $('backup-rows').replaceChildren(...ours.map((b) => el('tr', { 'data-backup': b.id },
    el('td', {}, b.volumeName), el('td', {}, b.kind), el('td', {}, b.status), el('td', {}, b.bytes ? bytes(b.bytes) : ''),
    el('td', {}, new Date(b.createdAt).toLocaleString()),
    el('td', {}, b.status === 'COMPLETE' ? el('button', { type: 'button', class: 'quiet', onclick: () => act(() => api('POST',
      `/api/v1/backups/${b.id}/restore`, { targetDomainId: selectedDomain.id, name: `${b.volumeName}-restored-${stamp()}` })) },
    `Restore ${b.volumeName}`) : ''))));
}

const stamp = () => new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14);

// Backups go to an object-store domain: the ones there are, to choose from.
function backupTargets(domains) {
  const targets = domains.filter((d) => d.driver === 'object');
  const chosen = $('backup-target').value;
  $('backup-target').replaceChildren(...(targets.length ? targets.map((d) => el('option', { value: d.id, selected: d.id === chosen ? '' : null }, d.name))
    : [el('option', { value: '' }, 'no object-store domain')]));
}

function backUp(volume) {
  const target = $('backup-target').value;
  if (!target) {
    $('volume-form-error').textContent = 'Create an object-store domain to back up to first.';
    return;
  }
  act(() => api('POST', `/api/v1/volumes/${volume.id}/backups`, { targetDomainId: target }));
}

async function act(request) {
  $('volume-form-error').textContent = '';
  try {
    await request();
  } catch (err) {
    $('volume-form-error').textContent = err.message;
  }
}

$('volume-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('volume-form-error').textContent = '';
  try {
    await api('POST', `/api/v1/domains/${selectedDomain.id}/volumes`, { name: $('volume-name').value,
      virtualSize: Math.round(Number($('volume-size').value) * GiB), format: $('volume-format').value });
    $('volume-name').value = '';
  } catch (err) {
    $('volume-form-error').textContent = err.message;
  }
});

async function maintenance() {
  if (!selectedDomain) return;
  let m;
  try {
    m = await api('GET', `/api/v1/domains/${selectedDomain.id}/maintenance`);
  } catch (err) {
    $('maintenance').replaceChildren(el('p', { class: 'help' }, err.status === 404 ? 'No maintenance requested.' : err.message));
    return;
  }
  $('maintenance').replaceChildren(
    el('p', {}, `Request "${m.reason}": `, el('strong', { id: 'maintenance-status', 'data-request': m.requestId }, later(m.status, announced.get(m.requestId))),
      `, deadline ${new Date(m.deadline).toLocaleTimeString()}`),
    el('ul', { id: 'voters', 'aria-live': 'polite' }, ...m.voters.map((v) => voter(v.subscriberId, v.vote, v.reason))));
}

// A request's status as its events announced it. The manager's answer to a read can lag the
// event that prompted the read (the event stream and the state are two consumers), so a read
// never shows a request further back than its events have.
const STEPS = ['VOTING', 'DRAINING', 'PREPARING', 'COMPLETED', 'ABORTED', 'CANCELLED', 'ENDED'];
const ANNOUNCES = { MaintenanceDraining: 'DRAINING', MaintenanceStarted: 'PREPARING', MaintenanceCompleted: 'COMPLETED',
  MaintenanceAborted: 'ABORTED', MaintenanceCancelled: 'CANCELLED', DomainActivated: 'ENDED' };
const announced = new Map();
function later(read, known) {
  return known && STEPS.indexOf(known) > STEPS.indexOf(read) ? known : read;
}

function voter(subscriberId, vote, reason) {
  return el('li', { 'data-voter': subscriberId },
    `${subscriberId}: `, el('span', { class: `vote-${vote || 'NONE'}` }, vote || 'not voted yet'), reason ? ` (${reason})` : '');
}

// A vote as the manager counted it, shown in place: the request is not read again for it.
function voteCounted(e) {
  if (!selectedDomain || e.domainId !== selectedDomain.id || $('maintenance-status')?.dataset.request !== e.requestId) return;
  const shown = [...$('voters').children].find((li) => li.dataset.voter === e.vote.subscriberId);
  const counted = voter(e.vote.subscriberId, e.vote.decision, e.vote.reason);
  if (shown) shown.replaceWith(counted); else $('voters').append(counted);
}

async function maintenanceAction(request) {
  $('maintenance-error').textContent = '';
  try {
    await request();
    await Promise.all([maintenance(), domainList()]);
  } catch (err) {
    $('maintenance-error').textContent = err.message;
  }
}
$('maintenance-form').addEventListener('submit', (e) => {
  e.preventDefault();
  maintenanceAction(() => api('POST', `/api/v1/domains/${selectedDomain.id}/maintenance`, { reason: $('maintenance-reason').value }));
});
$('maintenance-cancel').addEventListener('click', () => maintenanceAction(() => api('DELETE', `/api/v1/domains/${selectedDomain.id}/maintenance`)));
$('domain-activate').addEventListener('click', () => maintenanceAction(() => api('POST', `/api/v1/domains/${selectedDomain.id}/activate`)));

// --- live: tasks and events ------------------------------------------------------------------

const running = new Map();

async function tasks() {
  for (const t of await api('GET', '/api/v1/tasks?status=RUNNING&limit=100')) running.set(t.id, t);
  renderTasks();
}

function renderTasks() {
  $('tasks').replaceChildren(...[...running.values()].map((t) => el('li', {}, `${t.type} ${t.volumeId || ''}`,
    t.totalBytes ? el('progress', { max: t.totalBytes, value: t.doneBytes || 0, 'aria-label': `${t.type} progress` }) : '')));
  if (running.size === 0) $('tasks').replaceChildren(el('li', { class: 'help' }, 'None running.'));
}

// Thin provisioning as it happens, from the event stream since the page opened: guests paused on
// a volume (until resumed, stopped or torn down) and the latest extends.
const paused = new Map();
const names = new Map();
// A thin volume's allocation as its last extend left it (the state does not follow every extend).
const allocated = new Map();
const volumeName = (id) => names.get(id) || id.slice(0, 8);

function renderPaused() {
  $('paused').replaceChildren(...[...paused.values()].map((p) => el('li', { 'data-volume': volumeName(p.volumeId) },
    el('strong', {}, volumeName(p.volumeId)), ` on ${p.hostId}: ${p.nospace ? 'out of space' : p.reason}`)));
  if (paused.size === 0) $('paused').replaceChildren(el('li', { class: 'help' }, 'None paused.'));
}

function extended(e) {
  allocated.set(e.volumeId, e.allocation);
  $('extends').prepend(el('li', { 'data-volume': volumeName(e.volumeId) },
    `${volumeName(e.volumeId)}: ${bytes(e.previousAllocation)} to ${bytes(e.allocation)} in ${e.roundTripMillis} ms`,
    e.partial ? el('span', { class: 'level-WARNING' }, ` (partial: ${bytes(e.requestedAllocation)} asked)`) : '',
    e.resumed ? ', guest resumed' : ''));
  while ($('extends').children.length > 50) $('extends').lastChild.remove();
}

function thinProvisioning(type, e) {
  if (type === 'GuestPaused') paused.set(e.volumeId, e);
  if (type === 'GuestResumed' || type === 'GuestStopped' || type === 'VolumeTornDown' || (type === 'VolumeExtended' && e.resumed)) {
    paused.delete(e.volumeId);
  }
  if (type === 'VolumeExtended') extended(e);
  if (type.startsWith('Guest') || type === 'VolumeExtended' || type === 'VolumeTornDown') renderPaused();
}

// What an event changes, read again once; several events of one burst share one read.
const pending = new Set();
let flush = null;
function refresh(view) {
  pending.add(view);
  flush ??= setTimeout(async () => {
    const views = [...pending];
    pending.clear();
    flush = null;
    await Promise.all(views.map((v) => v().catch(() => {})));
  }, 100);
}

function onEvent(message) {
  const type = message.type.split('.').pop();
  const e = message.event;
  const subject = e.vote ? `${e.vote.subscriberId} ${e.vote.decision}` : e.name || (e.volumeId && volumeName(e.volumeId)) || e.domainId || '';
  const line = `${new Date(message.timestamp).toLocaleTimeString()} ${type} ${subject}`;
  $('events').prepend(el('li', { 'data-type': type }, line));
  while ($('events').children.length > 200) $('events').lastChild.remove();
  // Progress shows a task running; any other event of its request (correlation id: the task) is its outcome.
  if (type === 'VolumeCopyProgress' || type === 'BackupProgress') {
    running.set(e.envelope.correlationId, { id: e.envelope.correlationId, type, volumeId: e.volumeId, doneBytes: e.doneBytes, totalBytes: e.totalBytes });
  } else if (e.envelope) {
    running.delete(e.envelope.correlationId);
  }
  renderTasks();
  if (type === 'VolumeCreated') names.set(e.volumeId, e.name);
  thinProvisioning(type, e);
  if (ANNOUNCES[type] && e.requestId) announced.set(e.requestId, ANNOUNCES[type]);
  if (type === 'MaintenanceVoteCounted') {
    voteCounted(e);
  } else if (type.startsWith('Maintenance') || type === 'DomainActivated' || type === 'DomainDetached') {
    refresh(domainList);
    if (selectedDomain && e.domainId === selectedDomain.id) refresh(maintenance);
  }
  if (type === 'CapacityAlert') refresh(domainList);
  if (type === 'VolumeExtended') capacityMayHaveChanged();
  if (selectedDomain && (e.domainId === selectedDomain.id || /^(Volume|Snapshot|Backup)/.test(type))) refresh(volumeList);
  if (type === 'VolumeTrashed' || type === 'VolumeDeleted' || type === 'VolumeUntrashed') refresh(domainList);
  if (type === 'VolumePrepared' || type === 'VolumeTornDown') refresh(overview);
}

// The event stream over fetch (EventSource cannot send a token), resumed with Last-Event-ID.
async function follow() {
  let lastEventId = null;
  for (;;) {
    try {
      const headers = { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      stream = new AbortController();
      const response = await fetch('/api/v1/events', { headers, signal: stream.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      $('stream-status').textContent = 'Following the event stream.';
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let id = null; let data = null; let name = 'message';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data = line.slice(6);
            else if (line.startsWith('event: ')) name = line.slice(7);
          }
          if (data && name === 'message') {
            lastEventId = id;
            onEvent(JSON.parse(data));
          } else if (data && name === 'dropped') {
            lastEventId = JSON.parse(data).lastEventId;
          }
        }
      }
    } catch (err) {
      $('stream-status').textContent = `Event stream interrupted (${err.message}); reconnecting.`;
    }
    await new Promise((r) => setTimeout(r, 3000));
  }
}

if (token) {
  start().catch(() => {
    sessionStorage.removeItem('storagebus-token');
    token = null;
  });
}
