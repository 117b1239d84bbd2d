/**
 * The status page: one server-rendered, read-only HTML page of the status snapshot
 * (renewal/status.ts). `certpilot status --html FILE` writes it for cron users; a long-running
 * certpilot can serve the same string. No JavaScript, no external resource: the timeline bars are
 * plain elements sized in percent. Every value passes through {@link escapeHtml}; the snapshot
 * holds no key, and nothing else is read; its texts (an error message quoting a hook's stderr) pass
 * the one redaction (src/redact.ts) first, as everything the CLI prints does.
 */
import { formatDuration } from '../duration.js';
import { redactSecrets, redactText } from '../redact.js';
import type { CertificateStatus, StatusSnapshot } from '../renewal/status.js';
import { VERSION } from '../version.js';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pct = (t: number, from: number, to: number): number => Math.min(100, Math.max(0, ((t - from) / (to - from)) * 100));
const fmt = (n: number): string => n.toFixed(2);
const time = (iso: string | undefined): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

/**
 * True when the certificate is at risk: its renewal is failing (the last attempt failed) and less
 * than a third of its lifetime is left (past the usual renewal point), or it has expired.
 */
export function atRisk(c: CertificateStatus): boolean {
  if (c.lastResult?.result !== 'failure' || c.lastResult.stage !== 'renewal' || c.remainingMs === undefined) return false;
  const lifetime = c.notBefore && c.notAfter ? Date.parse(c.notAfter) - Date.parse(c.notBefore) : NaN;
  return c.remainingMs <= 0 || !Number.isFinite(lifetime) || c.remainingMs < lifetime / 3;
}

/** The at-risk line under the bar: renewal failing, the time left, the last error's code and hint. */
function riskLine(c: CertificateStatus): string {
  if (!atRisk(c)) return '';
  const left = (c.remainingMs ?? 0) <= 0 ? 'expired' : `expires in ${formatDuration(c.remainingMs ?? 0)}`;
  const hint = c.lastResult?.hint ? ` ${escapeHtml(c.lastResult.hint)}` : '';
  return `<p class="at-risk"><strong>At risk: renewal failing, ${escapeHtml(left)}.</strong> <code>${escapeHtml(c.lastResult?.code ?? '')}</code>${hint}</p>`;
}

function timeline(c: CertificateStatus, now: number): string {
  const from = c.notBefore ? Date.parse(c.notBefore) : NaN;
  const to = c.notAfter ? Date.parse(c.notAfter) : NaN;
  if (!Number.isFinite(from) || !Number.isFinite(to) || to <= from) return '<div class="bar empty" title="no live certificate">no live certificate</div>';
  const parts: string[] = [];
  const elapsed = pct(now, from, to);
  parts.push(`<div class="elapsed" style="width:${fmt(elapsed)}%"></div>`);
  if (c.ariWindow) {
    const s = pct(Date.parse(c.ariWindow.start), from, to);
    const e = pct(Date.parse(c.ariWindow.end), from, to);
    parts.push(
      `<div class="ari-window" style="left:${fmt(s)}%;width:${fmt(Math.max(e - s, 0.5))}%" title="ARI window ${escapeHtml(time(c.ariWindow.start))} – ${escapeHtml(time(c.ariWindow.end))}"></div>`,
    );
  }
  if (c.nextRenewal) {
    parts.push(`<div class="next-renewal" style="left:${fmt(pct(Date.parse(c.nextRenewal), from, to))}%" title="next renewal ${escapeHtml(time(c.nextRenewal))}"></div>`);
  }
  parts.push(`<div class="now" style="left:${fmt(elapsed)}%" title="now"></div>`);
  const label = `valid ${time(c.notBefore)} – ${time(c.notAfter)}`;
  const risk = atRisk(c);
  const labelled = risk ? `${label}; at risk: renewal failing` : label;
  return `<div class="bar${risk ? ' at-risk' : ''}" role="img" aria-label="${escapeHtml(labelled)}" title="${escapeHtml(labelled)}">${parts.join('')}</div>`;
}

function lastResult(c: CertificateStatus): string {
  const last = c.lastResult;
  if (!last) return '<span class="result none">never attempted</span>';
  const cls = last.result === 'success' ? 'ok' : 'failed';
  const detail = last.result === 'failure' ? ` <code>${escapeHtml(last.code ?? '')}</code> ${escapeHtml(last.message ?? '')}` : '';
  // A deployer that failed since the renewal is the last result (never a bare "success" then).
  const stage = last.stage === 'deploy' ? `deploy${last.deployer ? ` <span class="stage-deployer">${escapeHtml(last.deployer)}</span>` : ''} ` : '';
  return `<span class="result ${cls}">${stage}${escapeHtml(last.result)}</span> ${escapeHtml(time(last.at))}${detail}`;
}

function deployers(c: CertificateStatus): string {
  const list = c.deployers ?? [];
  if (list.length === 0) return '<span class="none">none</span>';
  return `<ul class="deployers">${list
    .map((d) => {
      const state = d.result === 'failure' ? 'failed' : d.lost !== undefined ? 'lost' : d.current ? 'current' : d.version === undefined ? 'never' : 'behind';
      const version = d.version === undefined ? 'nothing' : `v${d.version}`;
      return `<li class="deployer ${state}" data-deployer="${escapeHtml(d.deployer)}"><b>${escapeHtml(d.deployer)}</b>: ${escapeHtml(version)} <span class="state">${escapeHtml(state)}</span>${d.at ? ` <small>${escapeHtml(time(d.at))}</small>` : ''}${d.result === 'failure' ? ` <code>${escapeHtml(d.code ?? '')}</code>` : ''}${d.lost !== undefined ? ` <small>${escapeHtml(d.lost)}</small>` : ''}</li>`;
    })
    .join('')}</ul>`;
}

/** One line per notifier whose last attempt failed: what it would have said may not have arrived. */
function notifierLines(snapshot: StatusSnapshot): string {
  return (snapshot.notifiers ?? [])
    .filter((n) => n.result === 'failed')
    .map((n) => `<p class="notifier-failing" data-notifier="${escapeHtml(n.notifier)}"><strong>Notifier ${escapeHtml(n.notifier)} is failing:</strong> its last attempt (${escapeHtml(time(n.at))}, ${escapeHtml(n.certificate)}'s event) failed${n.code ? ` with <code>${escapeHtml(n.code)}</code>` : ''}; what it should have said may not have arrived. Run <code>certpilot config check</code> and read the run's log.</p>`)
    .join('\n');
}

function row(c: CertificateStatus, now: number): string {
  if (c.problem) {
    return `<tr class="cert problem" data-name="${escapeHtml(c.name)}"><th scope="row">${escapeHtml(c.name)}</th><td colspan="4"><code>${escapeHtml(c.problem.code)}</code> ${escapeHtml(c.problem.message)}<br><small>${escapeHtml(c.problem.hint)}</small></td></tr>`;
  }
  const left = c.remainingMs !== undefined ? ` (${escapeHtml(formatDuration(c.remainingMs))} left)` : '';
  const next = c.nextRenewal ? `${escapeHtml(time(c.nextRenewal))} <small>${escapeHtml(c.nextRenewalReason ?? '')}</small>` : '-';
  const cadence = c.cadence ? `<p class="warning cadence">${escapeHtml(c.cadence.message)}</p>` : '';
  // A held lock (only in `certpilot status --html`'s snapshot, which reads the locker).
  const lock = c.lock
    ? `<p class="${c.lock.state === 'stale' ? 'warning ' : ''}lock lock-${c.lock.state}">locked by ${escapeHtml(c.lock.holder)} until ${escapeHtml(time(c.lock.expiresAt))} (${escapeHtml(c.lock.state)}): ${escapeHtml(c.lock.why)}${c.lock.unlock ? `; <code>${escapeHtml(c.lock.unlock)}</code> breaks it` : ''}</p>`
    : '';
  return [
    `<tr class="cert${c.configured ? '' : ' unconfigured'}${atRisk(c) ? ' at-risk' : ''}" data-name="${escapeHtml(c.name)}">`,
    `<th scope="row">${escapeHtml(c.name)}${c.version !== undefined ? ` <small>v${escapeHtml(c.version)}</small>` : ''}<br><small class="domains">${escapeHtml(c.domains.join(', '))}</small></th>`,
    `<td class="validity">${timeline(c, now)}<small>expires ${escapeHtml(time(c.notAfter))}${left}</small>${riskLine(c)}${cadence}</td>`,
    `<td class="next">${next}<br><small>${escapeHtml(c.decision ?? '')}</small>${lock}</td>`,
    `<td class="last">${lastResult(c)}</td>`,
    `<td>${deployers(c)}</td>`,
    '</tr>',
  ].join('');
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.5rem;text-align:left;vertical-align:top}
thead th{background:#f6f8fa}
.bar{position:relative;height:14px;background:#dafbe1;border:1px solid #8c959f;border-radius:3px;margin-bottom:.25rem;min-width:12rem;overflow:hidden}
.bar.empty{background:#eee;font-size:11px;height:auto;padding:0 .25rem}
.elapsed{position:absolute;left:0;top:0;bottom:0;background:#afb8c1}
.ari-window{position:absolute;top:0;bottom:0;background:#54aeff;opacity:.85}
.next-renewal{position:absolute;top:-2px;bottom:-2px;width:3px;background:#8250df}
.now{position:absolute;top:-2px;bottom:-2px;width:2px;background:#cf222e}
.result.ok,.deployer.current .state{color:#1a7f37}.result.failed,.deployer.failed .state,.problem{color:#cf222e}
.deployer.behind .state,.deployer.never .state{color:#9a6700}.deployer.lost .state{color:#cf222e}
.bar.at-risk{background:#ffebe9;border-color:#cf222e}.bar.at-risk .elapsed{background:#ff8182}p.at-risk{color:#cf222e;margin:.25rem 0}
.warning{color:#9a6700;margin:.25rem 0}ul.deployers{margin:0;padding-left:1rem}
p.stale,p.notifier-failing{color:#cf222e;background:#ffebe9;border:1px solid #cf222e;border-radius:3px;padding:.5rem}
.legend span{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 .25rem 0 1rem}
`;

/** The whole page for `snapshot`. */
export function renderStatusPage(shown: StatusSnapshot, options: { unreadable?: string } = {}): string {
  const snapshot = redactSecrets(shown);
  const now = Date.parse(snapshot.generatedAt);
  const rows = snapshot.certificates.map((c) => row(c, now)).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; script-src 'none'">
<title>certpilot status</title>
<style>${STYLE}</style>
</head>
<body>
<h1>certpilot status</h1>
<p class="generated">Generated ${escapeHtml(time(snapshot.generatedAt))} by certpilot ${escapeHtml(VERSION)}${snapshot.daemon ? '; certpilot daemon renews each certificate at its time' : snapshot.runIntervalMs ? `; renew runs every ${escapeHtml(formatDuration(snapshot.runIntervalMs))}` : ''}.</p>
${options.unreadable !== undefined ? `<p class="stale"><strong>The state store cannot be read now</strong> (${escapeHtml(redactText(options.unreadable))}): this page is the status as last read, at ${escapeHtml(time(snapshot.generatedAt))}. Renewals wait for it; see the daemon's log.</p>\n` : ''}${notifierLines(snapshot)}
<p class="legend">Validity:<span style="background:#afb8c1"></span>elapsed<span style="background:#dafbe1"></span>remaining<span style="background:#54aeff"></span>ARI window<span style="background:#8250df"></span>next renewal<span style="background:#cf222e"></span>now</p>
<table>
<thead><tr><th scope="col">Certificate</th><th scope="col">Validity</th><th scope="col">Next renewal</th><th scope="col">Last result</th><th scope="col">Deployers</th></tr></thead>
<tbody>
${rows || '<tr><td colspan="5">No certificates configured or stored.</td></tr>'}
</tbody>
</table>
</body>
</html>
`;
}
