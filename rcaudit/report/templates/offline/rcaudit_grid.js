// rcaudit's grid and drill-down loader (appended to itables' DataTables bundle by rcaudit/report/grid.py).
// Every value is shown as escaped text or set with textContent; links only to the two admin portals.
const RC = {ITable: __ITABLE__, jQuery: __JQUERY__};
const rcEsc = s => String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const rcText = c => (c !== null && typeof c === "object") ? String(c.v ?? "") : String(c ?? "");
const rcRaw = c => (c !== null && typeof c === "object") ? String(c.x ?? c.v ?? "") : String(c ?? "");
const rcTip = c => (c !== null && typeof c === "object" && c.t) ? String(c.t) : rcText(c);
const RC_CLASSES = new Set(__CLASSES__);
// "Download CSV" is opened in a spreadsheet, which evaluates a cell that starts like a formula (=, +, -, @, tab,
// CR, also after leading spaces or line breaks): such a value gets a leading ' and is shown as the text it is
// (OWASP "CSV Injection"). Phone numbers too: Excel would show +1-202-555-0100 as -856 and +447700900999 as a
// number without its +. It runs as the export's last step (format.body), on the raw value the "export" render
// gives: DataTables' own cleaning (tags, comments, entities, trimming) is off, since it runs after a render and
// would turn "<b>=X" or "&#61;X" back into a formula.
const rcCsvSafe = s => /^\s*[=+\-@]|^[\t\r]/.test(s) ? "'" + s : s;
function rcRender(cell, type) {
  if (type === "export") { return rcRaw(cell); }
  if (type === "sort" || type === "type") { return rcRaw(cell); }
  if (type === "filter") { return [...new Set([rcText(cell), rcRaw(cell), (cell && cell.b) || ""])].filter(Boolean).join(" "); }
  const text = rcText(cell), tip = rcTip(cell);
  if (text === "" && !(cell && cell.b)) { return ""; }  // empty: filter panes say "(none)"
  const cls = (cell && RC_CLASSES.has(cell.c)) ? " " + cell.c : "";
  const title = (tip !== text || text.length > 20) ? ' title="' + rcEsc(tip) + '"' : "";
  let html = '<span class="rc-cell' + cls + '"' + title + ">" + rcEsc(text) + "</span>";
  if (cell && cell.b) { html += ' <span class="rc-badge">' + rcEsc(cell.b) + "</span>"; }
  if (cell && cell.u) { html = '<a href="#drilldown" class="rc-user" data-user="' + rcEsc(cell.u) + '">' + html + "</a>"; }
  return html;
}
window.rcauditGrids = window.rcauditGrids || {};
function rcGrid(block) {
  const table = document.getElementById(block.getAttribute("data-for"));
  if (!table || table.classList.contains("dataTable")) { return; }
  const spec = JSON.parse(block.textContent);
  const buttons = [{extend: "colvis", text: "Columns"},
    {extend: "csvHtml5", text: "Download CSV", filename: spec.csv || "table",
     exportOptions: {orthogonal: "export", escapeExcelFormula: false, format: {body: d => rcCsvSafe(String(d ?? ""))}}}];
  const options = {
    data: spec.rows, deferRender: true, autoWidth: true, scrollX: true, pageLength: spec.pageLength || 25,
    lengthMenu: [10, 25, 50, 100, 500], order: spec.order || [],
    columns: spec.columns.map((c, i) => ({data: i, name: c.name, title: rcEsc(c.title), visible: c.visible !== false,
                                          render: rcRender, className: c.className || ""})),
    buttons: buttons, language: {searchPanes: {collapse: "Filters", clearMessage: "Clear filters", emptyMessage: "(none)"}},
    layout: {topStart: ["pageLength", "buttons"], topEnd: "search", bottomStart: "info", bottomEnd: "paging"}
  };
  if (spec.filters && spec.filters.length) {
    options.layout.top1 = "searchPanes";
    options.searchPanes = {columns: spec.filters, threshold: 1, cascadePanes: false, viewTotal: false,
                           initCollapsed: false, layout: "columns-" + Math.min(spec.filters.length, 4),
                           dtOpts: {select: {style: "multi"}, paging: true, pagingType: "numbers", pageLength: 6}};
  }
  window.rcauditGrids[table.id] = RC.jQuery(table).DataTable(options);
  table.setAttribute("data-ready", "true");
}
function rcShowKind(kind) {
  const dt = window.rcauditGrids["findings-grid"];
  if (!dt) { return; }
  const column = dt.column("kind:name");
  dt.search("");
  dt.columns().search("");
  if (dt.searchPanes) { dt.searchPanes.clearSelections(); }
  dt.column(column.index()).search(kind ? "^" + kind.replace(/[^a-z_]/g, "") + "$" : "", {regex: true, smart: false}).draw();
}
const RC_LINKS = ["https://entra.microsoft.com/", "https://service.ringcentral.com/"];
function rcEl(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) { e.textContent = String(text); }
  if (cls) { e.className = cls; }
  return e;
}
function rcTable(headers, rows, rowClass) {
  const t = rcEl("table"), head = rcEl("tr");
  headers.forEach(h => head.appendChild(rcEl("th", h)));
  t.appendChild(head);
  rows.forEach(r => {
    const tr = rcEl("tr", null, rowClass ? rowClass(r) : "");
    r.cells.forEach((c, i) => { const td = rcEl("td", c.text, i === 0 ? "rc-attr" : ""); if (c.tip) { td.title = c.tip; } tr.appendChild(td); });
    t.appendChild(tr);
  });
  return t;
}
function rcFindingsOf(key) {
  // The user's rows, read from the findings grid (the drill-down block does not repeat them).
  const dt = window.rcauditGrids["findings-grid"];
  if (!dt) { return []; }
  const names = dt.settings()[0].aoColumns.map(c => c.name);
  const at = n => names.indexOf(n);
  return dt.rows().data().toArray().filter(r => r[at("user_name")] && r[at("user_name")].u === key)
    .map(r => ["severity", "kind", "attribute", "expected", "actual", "reason"].map(n => ({text: rcText(r[at(n)]),
                                                                                          tip: rcTip(r[at(n)])})));
}
function rcUserView(u, names) {
  const box = rcEl("div");
  box.appendChild(rcEl("h3", u.title));
  const links = rcEl("p", null, "rc-links");
  u.links.forEach(([text, href, hint]) => {
    if (!RC_LINKS.some(p => String(href).startsWith(p))) { return; }
    const a = rcEl("a", text); a.href = href; a.target = "_blank"; a.rel = "noopener noreferrer";
    if (hint) { a.title = hint; }
    links.appendChild(a);
    if (hint) { links.appendChild(rcEl("small", "(" + hint + ") ")); }
  });
  box.appendChild(links);
  box.appendChild(rcEl("h4", "Findings"));
  box.appendChild(rcTable(["severity", "kind", "attribute", "expected", "actual", "reason"],
    rcFindingsOf(u.key).map(f => ({cells: f}))));
  box.appendChild(rcEl("h4", "Audited attributes: what Entra's mapping gives and what RingCentral holds"));
  box.appendChild(rcTable(["attribute", "Entra (expected)", "RingCentral (actual)"],
    u.attributes.map(a => ({differs: a[3], cells: [{text: names[a[0]][0], tip: names[a[0]][1]}, {text: a[1]},
                                                   {text: a[2]}]})),
    r => r.differs ? "rc-differs" : ""));
  box.appendChild(rcEl("h4", "Provisioning events"));
  if (u.events.length) {
    box.appendChild(rcTable(["when", "action", "status", "error", "reason"], u.events.map(e => ({cells: e.map(v => ({text: v}))}))));
  } else { box.appendChild(rcEl("p", "No provisioning event for this user in the snapshot.")); }
  box.appendChild(rcEl("h4", "Raw records"));
  const sides = rcEl("div", null, "rc-sides"), left = rcEl("div"), right = rcEl("div");
  left.appendChild(rcEl("strong", "Entra (Graph user)"));
  left.appendChild(rcEl("pre", u.entra ? JSON.stringify(u.entra, null, 1) : "(no Entra user)"));
  right.appendChild(rcEl("strong", "RingCentral (SCIM account" + (u.rc.length > 1 ? "s" : "") + ")"));
  right.appendChild(rcEl("pre", u.rc.length ? u.rc.map(a => JSON.stringify(a, null, 1)).join("\n\n") : "(no account)"));
  sides.appendChild(left); sides.appendChild(right); box.appendChild(sides);
  return box;
}
function rcDrill(block) {
  const panel = document.getElementById(block.getAttribute("data-for"));
  if (!panel || panel.getAttribute("data-ready")) { return; }
  const spec = JSON.parse(block.textContent), users = spec.users, byKey = new Map(users.map(u => [u.key, u]));
  const pick = rcEl("select"), view = rcEl("div", null, "rc-user-view");
  const options = document.createDocumentFragment();
  users.forEach(u => { const o = rcEl("option", u.label); o.value = u.key; options.appendChild(o); });
  pick.appendChild(options);
  const label = rcEl("label", "User: ");
  label.appendChild(pick);
  panel.appendChild(label);
  panel.appendChild(view);
  const show = key => { const u = byKey.get(key); if (!u) { return; } pick.value = key; view.replaceChildren(rcUserView(u, spec.attributes)); };
  pick.addEventListener("change", () => show(pick.value));
  window.rcauditShowUser = show;
  if (users.length) { show(users[0].key); }
  panel.setAttribute("data-ready", "true");
}
document.querySelectorAll('script[type="application/json"].rcaudit-grid').forEach(rcGrid);
document.querySelectorAll('script[type="application/json"].rcaudit-drilldown').forEach(rcDrill);
document.addEventListener("click", e => {
  const link = e.target.closest && e.target.closest("a[data-user]");
  if (link && window.rcauditShowUser) { window.rcauditShowUser(link.getAttribute("data-user")); }
});
document.addEventListener("click", e => {
  const action = e.target.closest && e.target.closest("a[data-kind]");
  if (action) { rcShowKind(action.getAttribute("data-kind")); }
});
window.rcauditShowKind = rcShowKind;
